// Module hooks (node:module register) that append every module URL the process resolves to the
// file named by S3C_IMPORT_TRACE: how the start-up test sees what a command loads.
import {appendFileSync} from 'node:fs'

type Next = (spec: string, ctx: unknown) => Promise<{url: string}>

export async function resolve(spec: string, ctx: unknown, next: Next): Promise<{url: string}> {
  const r = await next(spec, ctx)
  const file = process.env.S3C_IMPORT_TRACE
  if (file) appendFileSync(file, r.url + '\n')
  return r
}
