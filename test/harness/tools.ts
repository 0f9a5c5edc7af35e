/**
 * The programs the tests and benches run next to s3c (aws, rclone, chromium, GNU time), found on
 * the PATH rather than at fixed paths. Each PATH entry is tried in order, and a candidate counts
 * only if it runs: a shim earlier on the PATH (pyenv's `aws`, say) that fails, or is another
 * program than the one the tests were written against (awscli 1 where they expect awscli 2), is
 * passed over for the next entry. None found is an Error naming the tool, what was tried and
 * how to install it; callers let it fail the test as a missing /usr/bin/… did.
 */
import {spawnSync} from 'node:child_process'
import {accessSync, constants, statSync} from 'node:fs'
import {delimiter, join} from 'node:path'

export interface ToolSpec {
  /** The program's name on the PATH. */
  name: string
  /** How to install it (Debian), for the error. */
  install: string
  /** Arguments that make it print its version and exit 0; without them, being an executable file is enough. */
  versionArgs?: string[]
  /** What the version output must match (e.g. the major version the tests rely on). */
  accept?: RegExp
}

const found = new Map<ToolSpec, string>()

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The first working `spec.name` on the PATH (its absolute path), or an Error that says why none was taken. */
export function findTool(spec: ToolSpec): string {
  const known = found.get(spec)
  if (known) return known
  const tried: string[] = []
  const seen = new Set<string>()
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue // an empty entry would be the working directory: not a place the tests look
    const path = join(dir, spec.name)
    if (seen.has(path) || !executable(path)) continue
    seen.add(path)
    if (spec.versionArgs) {
      const r = spawnSync(path, spec.versionArgs, {encoding: 'utf8', timeout: 30_000})
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim()
      if (r.error || r.status !== 0) {
        tried.push(`${path}: ${r.error?.message ?? `exit ${r.status}`}`)
        continue
      }
      if (spec.accept && !spec.accept.test(out)) {
        tried.push(`${path}: ${out.split('\n')[0]}`)
        continue
      }
    }
    found.set(spec, path)
    return path
  }
  const why = tried.length ? ` (passed over: ${tried.join('; ')})` : ''
  throw new Error(`${spec.name} was not found on the PATH${spec.accept ? ` matching ${spec.accept}` : ''}${why}: ${spec.install}`)
}

// awscli 2 (Debian's 2.9 on CI): `aws configure set` of nested s3 settings and the interop tests' expectations are its.
export const awscliTool: ToolSpec = {name: 'aws', install: 'apt-get install -y awscli', versionArgs: ['--version'], accept: /^aws-cli\/2\./}
export const rcloneTool: ToolSpec = {name: 'rclone', install: 'apt-get install -y rclone', versionArgs: ['version']}
// Launched by playwright-core; asking it for --version costs a second, so being on the PATH is enough.
export const chromiumTool: ToolSpec = {name: 'chromium', install: 'apt-get install -y chromium'}
// GNU time for peak memory (-f %M): not the shell's keyword.
export const gnuTimeTool: ToolSpec = {name: 'time', install: 'apt-get install -y time (peak memory needs GNU time)', versionArgs: ['--version'], accept: /GNU/}
