import {createHmac, timingSafeEqual} from 'node:crypto'
import {readFileSync, realpathSync} from 'node:fs'
import {isAbsolute, relative, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {findKind} from '../jobs/registry.js'

/*
 * What a worker and `s3c retry` accept from Redis (docs/USAGE.md, "Safety"): whoever can write to
 * Redis can rewrite a job or a stored command, so a worker acts only on local paths under its
 * --root folders, and with a job key (S3C_JOB_KEY or S3C_JOB_KEY_FILE) the CLI signs each job and
 * stored command and workers and retry refuse what they cannot authenticate. Every rule is here.
 */

/** JSON with object keys sorted and undefined members left out, as JSON.stringify leaves them: what is signed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(v => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o).sort().filter(k => o[k] !== undefined).map(k => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

let cachedKey: {key: Buffer | undefined} | undefined

/**
 * The shared secret jobs are signed with: S3C_JOB_KEY, or the content of the file
 * S3C_JOB_KEY_FILE names (a Docker secret); undefined when neither is set. Never printed.
 */
export function jobKey(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  if (env !== process.env) return readKey(env)
  return (cachedKey ??= {key: readKey(env)}).key
}

function readKey(env: NodeJS.ProcessEnv): Buffer | undefined {
  let text = env.S3C_JOB_KEY
  if (!text && env.S3C_JOB_KEY_FILE) {
    try {
      text = readFileSync(env.S3C_JOB_KEY_FILE, 'utf8').trim()
    } catch (error) {
      throw new S3cError(`cannot read the job key file S3C_JOB_KEY_FILE=${env.S3C_JOB_KEY_FILE} (${(error as {code?: string}).code ?? 'error'}): fix the path or unset it`, ExitCode.usage)
    }
    if (!text) throw new S3cError(`the job key file S3C_JOB_KEY_FILE=${env.S3C_JOB_KEY_FILE} is empty: write the shared secret into it`, ExitCode.usage)
  }
  return text ? Buffer.from(text, 'utf8') : undefined
}

/** HMAC-SHA256 (hex) of a value's canonical JSON. */
export function signValue(value: unknown, key: Buffer): string {
  return createHmac('sha256', key).update(canonicalJson(value)).digest('hex')
}

function sameSignature(value: unknown, signature: unknown, key: Buffer): boolean {
  if (typeof signature !== 'string') return false
  const expected = Buffer.from(signValue(value, key), 'hex')
  const given = Buffer.from(signature, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** A job envelope with its signature (`sig`) when a key is configured; the signature covers every other member. */
export function signEnvelope<E extends object>(envelope: E, key = jobKey()): E & {sig?: string} {
  return key ? {...envelope, sig: signValue({...envelope, sig: undefined}, key)} : envelope
}

/** The signature a stored command (the JSON text in the run's hash) gets, or undefined without a key. */
export function signCommand(command: string, key = jobKey()): string | undefined {
  return key ? signValue(JSON.parse(command), key) : undefined
}

/** Refuses (one line, exit 2) a stored command that a configured job key does not authenticate. */
export function checkStoredCommand(runId: string, command: unknown, signature: string | null | undefined, key = jobKey()): void {
  if (!key) return
  if (!signature) throw new S3cError(`run "${runId}": its stored command is not signed, and this s3c has a job key (S3C_JOB_KEY): refused; run the command again yourself`, ExitCode.usage)
  if (!sameSignature(command, signature, key)) throw new S3cError(`run "${runId}": its stored command does not match its signature (changed in Redis, or signed with another job key): refused; run the command again yourself`, ExitCode.usage)
}

/** The folders a worker (or s3c retry) acts in: each as given (absolute) and as its real path, so either spelling in a job matches. */
export function workerRoots(dirs: string[]): string[] {
  const roots = new Set<string>()
  for (const d of dirs) {
    const abs = resolve(d)
    roots.add(abs)
    try {
      roots.add(realpathSync(abs))
    } catch {
      throw new S3cError(`--root ${d}: no such folder: create it or name another`, ExitCode.usage)
    }
  }
  return [...roots]
}

/** Whether `path` is `root` or below it, by name (".." and relative paths resolved first). */
export function isUnder(path: string, root: string): boolean {
  const rel = relative(root, resolve(root, path))
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel))
}

/**
 * Why a worker refuses a job taken from Redis, or undefined to run it: a signature a configured
 * key does not accept, an unknown kind, or a local path (its kind's localPaths) outside `roots`.
 * Nothing of the job is read before this says yes.
 */
export function refusalOf<E extends {job?: unknown; sig?: unknown}>(envelope: E, roots: string[], key: Buffer | undefined): string | undefined {
  if (key && !sameSignature({...envelope, sig: undefined}, envelope.sig, key)) {
    return envelope.sig === undefined
      ? 'refused: the job is not signed and this worker has a job key (S3C_JOB_KEY): it was not queued by an s3c holding the key'
      : 'refused: the job does not match its signature (changed in Redis, or signed with another job key)'
  }
  const job = envelope.job as {kind?: unknown} | undefined
  const kind = typeof job?.kind === 'string' ? findKind(job.kind) : undefined
  if (!kind) return `refused: unknown job kind ${String(job?.kind)} (a job of another s3c version, or not s3c's)`
  let paths: string[]
  try {
    paths = kind.localPaths(job as never)
  } catch {
    return `refused: a ${kind.kind} job without the fields its kind has`
  }
  const bad = firstOutside(paths, roots)
  if (!bad) return undefined
  return bad.absolute ? `refused: ${bad.path} is outside this worker's folders: start the worker with --root naming a folder that holds it` : `refused: ${bad.path} is not an absolute path`
}

/**
 * The root rule, one for workers (a job's local paths) and `s3c retry` (a stored command's): the
 * first of `paths` that is not an absolute path under one of `roots` (workerRoots), or undefined.
 */
export function firstOutside(paths: readonly unknown[], roots: string[]): {path: string; absolute: boolean} | undefined {
  for (const p of paths) {
    if (typeof p !== 'string' || !isAbsolute(p)) return {path: String(p), absolute: false}
    if (!roots.some(r => isUnder(p, r))) return {path: p, absolute: true}
  }
  return undefined
}

/**
 * Refuses (one line, exit 2) a stored command naming a local path outside the folders `s3c retry`
 * was given (--root; default: the working folder): without a job key, whoever can write to Redis
 * chooses the command, so a retry acts where a worker would, and nowhere else.
 */
export function checkStoredPaths(runId: string, paths: readonly unknown[], roots: string[]): void {
  const bad = firstOutside(paths, roots)
  if (!bad) return
  throw new S3cError(bad.absolute
    ? `run "${runId}": its stored command names ${bad.path}, outside the folders this retry may act in: run s3c retry with --root naming a folder that holds it`
    : `run "${runId}": its stored command names ${bad.path}, which is not an absolute path: refused; run the command again yourself`, ExitCode.usage)
}
