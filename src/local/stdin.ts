import {fstatSync, readFileSync, statSync} from 'node:fs'
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
  if (st.isCharacterDevice() && closedAtStart(st.rdev)) throw new S3cError(`standard input is closed: give ${use} on standard input`, ExitCode.usage)
  return process.stdin
}

/**
 * Node opens /dev/null read-write in place of a descriptor 0 that was closed when it started; a
 * shell's `< /dev/null` opens it read-only. Linux tells the two apart in /proc (elsewhere a
 * closed input reads as empty, as `< /dev/null` does).
 */
function closedAtStart(rdev: number): boolean {
  try {
    if (rdev !== statSync('/dev/null').rdev) return false
    const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/0', 'utf8'))?.[1]
    return flags !== undefined && (parseInt(flags, 8) & 3) === 2
  } catch {
    return false
  }
}
