import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * A maker of scratch folders (`s3c-NAME-…` under the system's temporary folder), all removed
 * after the tests of the suite it is called in (at a file's top level: after the file's tests).
 * Starts nothing, so unit tests may use it.
 */
export function scratchDirs(): (name: string) => string {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  return name => {
    const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`))
    dirs.push(d)
    return d
  }
}
