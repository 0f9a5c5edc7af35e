/**
 * The sync states on the machine that runs the command (docs/DESIGN-state.md, "Where it lives"):
 * one file per identity in a folder (the XDG state folder unless told otherwise), written to a
 * temporary name, flushed and renamed, with a small JSON file beside it that says whose state it
 * is; the folder is kept within a count and a total size by dropping the least recently used.
 */
import {createReadStream, createWriteStream} from 'node:fs'
import {mkdir, open, readdir, rename, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import type {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {ExitCode, S3cError} from '../base/errors.js'
import {GiB, parseSize} from '../base/units.js'
import type {StateHeader, StateStorage} from './state.js'

/** How many states, and how many bytes of them, a folder keeps (the least recently used go first). */
export interface StateCaps {
  maxCount: number
  maxBytes: number
}

export const DEFAULT_STATE_CAPS: StateCaps = {maxCount: 1000, maxBytes: GiB}

const STATE_SUFFIX = '.ndjson.gz'
const ABOUT_SUFFIX = '.json'
/** A temporary file older than this was left by a run that died: removed when the folder is pruned. */
const STALE_TMP_MS = 24 * 3600 * 1000

/**
 * Where states live by default: `S3C_STATE_DIR`, else `$XDG_STATE_HOME/s3c/sync` (the XDG base
 * directory rules: a relative XDG_STATE_HOME is ignored), else `~/.local/state/s3c/sync`.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.S3C_STATE_DIR) return resolve(env.S3C_STATE_DIR)
  const xdg = env.XDG_STATE_HOME
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state'), 's3c', 'sync')
}

/** The caps, from `S3C_STATE_MAX_COUNT` and `S3C_STATE_MAX_SIZE` (a size: `500MiB`) when set. */
export function stateCaps(env: NodeJS.ProcessEnv = process.env): StateCaps {
  const caps = {...DEFAULT_STATE_CAPS}
  const count = env.S3C_STATE_MAX_COUNT
  if (count) {
    if (!/^\d+$/.test(count) || Number(count) < 1) throw new S3cError(`S3C_STATE_MAX_COUNT="${count}" is not a whole number of states (1 or more)`, ExitCode.usage)
    caps.maxCount = Number(count)
  }
  const size = env.S3C_STATE_MAX_SIZE
  if (size) {
    try {
      caps.maxBytes = parseSize(size)
    } catch (error) {
      throw new S3cError(`S3C_STATE_MAX_SIZE: ${(error as Error).message}`, ExitCode.usage)
    }
  }
  return caps
}

/**
 * States in a local folder. `get` reads a regular file (undefined when there is none) and marks it
 * used (its mtime: what "least recently used" goes by); `put` writes a temporary file beside the
 * state, fsyncs it, renames it over the state and fsyncs the folder, so a crash leaves the old
 * state or the new one, never a mix; then writes the side file (`<id>.json`, what the state
 * belongs to, for people) and prunes the folder to `caps`, never dropping the state just written.
 */
export function folderStorage(dir: string, caps: StateCaps = DEFAULT_STATE_CAPS): StateStorage {
  return {
    async get(name) {
      const path = join(dir, name)
      const st = await stat(path).catch(() => undefined)
      if (!st?.isFile()) return undefined
      const now = new Date()
      await utimes(path, now, now).catch(() => undefined)
      return createReadStream(path)
    },
    async put(name, body, about) {
      const path = join(dir, name)
      await mkdir(dir, {recursive: true, mode: 0o700})
      const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
      try {
        await pipeline(body, createWriteStream(tmp, {mode: 0o600}))
        await fsync(tmp)
        await rename(tmp, path)
      } catch (error) {
        await rm(tmp, {force: true})
        throw error
      }
      await fsync(dir)
      if (about && name.endsWith(STATE_SUFFIX)) await writeAbout(join(dir, name.slice(0, -STATE_SUFFIX.length) + ABOUT_SUFFIX), about)
      await pruneStates(dir, caps, name)
    },
  }
}

/** Flushes a file's (or a folder's) data to the disk. */
async function fsync(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** The side file: whose state it is, as the state's header says it (atomic, like the state). */
async function writeAbout(path: string, about: StateHeader): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
  const {endpoint, bucket, prefix, direction, local, written} = about
  try {
    await writeFile(tmp, JSON.stringify({endpoint, bucket, prefix, direction, local, written}, null, 2) + '\n', {mode: 0o600})
    await rename(tmp, path)
  } catch (error) {
    await rm(tmp, {force: true})
    throw error
  }
}

/**
 * Keeps at most `caps.maxCount` states and `caps.maxBytes` bytes of them in `dir`, dropping the
 * least recently used (oldest mtime: written or read) first, never `keep`; removes side files
 * whose state is gone and temporary files a dead run left. Another run pruning at the same time
 * is harmless: a file already gone is skipped.
 */
export async function pruneStates(dir: string, caps: StateCaps, keep?: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  const now = Date.now()
  const states: {name: string; bytes: number; usedMs: number}[] = []
  for (const name of names) {
    const st = await stat(join(dir, name)).catch(() => undefined)
    if (!st?.isFile()) continue
    if (name.includes('.tmp-')) {
      if (now - st.mtimeMs > STALE_TMP_MS) await rm(join(dir, name), {force: true})
    } else if (name.endsWith(STATE_SUFFIX)) {
      states.push({name, bytes: st.size, usedMs: st.mtimeMs})
    }
  }
  states.sort((a, b) => (a.name === keep ? -1 : b.name === keep ? 1 : b.usedMs - a.usedMs))
  const dropped: string[] = []
  let count = 0
  let bytes = 0
  for (const s of states) {
    count++
    bytes += s.bytes
    if (s.name !== keep && (count > caps.maxCount || bytes > caps.maxBytes)) {
      count--
      bytes -= s.bytes
      await rm(join(dir, s.name), {force: true})
      dropped.push(s.name)
    }
  }
  const kept = new Set(states.map(s => s.name).filter(n => !dropped.includes(n)))
  for (const name of names) {
    if (name.endsWith(ABOUT_SUFFIX) && !name.includes('.tmp-') && !kept.has(name.slice(0, -ABOUT_SUFFIX.length) + STATE_SUFFIX)) await rm(join(dir, name), {force: true})
  }
  return dropped
}
