import {fstatSync} from 'node:fs'
import type {Readable} from 'node:stream'
import {ExitCode, S3cError} from '../base/errors.js'

/**
 * Standard input, checked before anything reads it. Node hands a closed descriptor (`<&-`) or a
 * folder (`< /tmp`) to a program as an empty stream, which would read as "no data": `pipe` would
 * replace an object with 0 bytes and `run -` run 0 lines, both with exit 0. `use` says what the
 * input was for, for the message.
 */
export function readableStdin(use: string): Readable {
  let st
  try {
    st = fstatSync(0)
  } catch {
    throw new S3cError(`standard input is closed: give ${use} on standard input`, ExitCode.usage)
  }
  if (st.isDirectory()) throw new S3cError(`standard input is a folder: give ${use} on standard input`, ExitCode.usage)
  return process.stdin
}
