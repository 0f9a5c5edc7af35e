import {statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'
import {joinKey, parseLocation, parseS3Url} from '../base/location.js'
import {INDEX_SUFFIX} from './format.js'

/** A tar in S3 and its index object. */
export interface S3TarRef {
  kind?: 's3'
  bucket: string
  tarKey: string
  indexKey: string
  /** How the user named it, for messages. */
  label: string
}

/** A tar on disk and its index file next to it (FILE.s3ci). */
export interface LocalTarRef {
  kind: 'local'
  /** Absolute. */
  path: string
  indexPath: string
  /** The path as the user wrote it, for messages. */
  label: string
}

export type TarRef = S3TarRef | LocalTarRef

export function isLocalTar(ref: TarRef): ref is LocalTarRef {
  return ref.kind === 'local'
}

export const BUNDLE_TAR = 'bundle.tar'

/** The S3 location a run over this tar names (a local tar has none: nothing is sent to S3). */
export function tarLocation(ref: TarRef): {bucket: string; prefix: string} {
  return {bucket: isLocalTar(ref) ? '' : ref.bucket, prefix: ''}
}

/** The tar of bundle `id` under the prefix. */
export function bundleRef(id: string, loc: {bucket?: string; prefix?: string}): S3TarRef {
  const bucket = loc.bucket || process.env.S3C_BUCKET
  if (!id || id.includes('/') || id === '.' || id === '..') throw new S3cError(`"${id}" is not a bundle id: ids are single path segments (or give an s3:// URL)`, ExitCode.usage)
  if (!bucket) throw new S3cError(`no bucket for bundle "${id}": pass --bucket NAME, set S3C_BUCKET, or give s3://bucket/key.tar`, ExitCode.usage)
  const tarKey = joinKey(loc.prefix ?? '', `${id}/${BUNDLE_TAR}`)
  return {bucket, tarKey, indexKey: tarKey + INDEX_SUFFIX, label: `bundle "${id}" (s3://${bucket}/${tarKey})`}
}

const isFile = (path: string) => statSync(path, {throwIfNoEntry: false})?.isFile() === true

/**
 * The tar a BUNDLE or TAR argument names: an s3://bucket/key.tar URL; a local tar (a path that
 * starts with ./, ../, / or ~, or names an existing file, or a file with an index next to it);
 * else a bundle id under the prefix. Naming the index (x.tar.s3ci) names its tar.
 */
export function resolveTarRef(arg: string, loc: {bucket?: string; prefix?: string}): TarRef {
  if (parseLocation(arg).type === 's3') {
    const {bucket, prefix: key} = parseS3Url(arg)
    if (!key || key.endsWith('/')) throw new S3cError(`"${arg}" names no object: give s3://bucket/path/archive.tar or a bundle id`, ExitCode.usage)
    const tarKey = key.endsWith(INDEX_SUFFIX) ? key.slice(0, -INDEX_SUFFIX.length) : key
    return {bucket, tarKey, indexKey: tarKey + INDEX_SUFFIX, label: `s3://${bucket}/${tarKey}`}
  }
  const label = arg.endsWith(INDEX_SUFFIX) ? arg.slice(0, -INDEX_SUFFIX.length) : arg
  const home = label === '~' || label.startsWith('~/')
  const path = resolve(home ? join(homedir(), label.slice(1)) : label)
  if (/^(\.{1,2}\/|\/)/.test(label) || home || isFile(path) || isFile(path + INDEX_SUFFIX)) {
    const st = statSync(path, {throwIfNoEntry: false})
    if (!st) throw new S3cError(`${label} does not exist: give the path of a tar file`, ExitCode.usage, 'ENOENT')
    if (!st.isFile()) throw new S3cError(`"${label}" is not a file: give a .tar file`, ExitCode.usage)
    return {kind: 'local', path, indexPath: path + INDEX_SUFFIX, label}
  }
  if (arg.includes('/')) throw new S3cError(`"${arg}" is not a local file, nor a bundle id (ids are single path segments): give the path of a tar or s3://bucket/key.tar`, ExitCode.usage)
  if (/\.tar$/i.test(label) && !(loc.bucket || process.env.S3C_BUCKET))
    throw new S3cError(`"${arg}" is not a local file, and no bucket is given for a bundle of that id: give the path of a tar, s3://bucket/key.tar, or --bucket NAME (or set S3C_BUCKET)`, ExitCode.usage)
  if (arg && arg !== '.' && arg !== '..' && !(loc.bucket || process.env.S3C_BUCKET))
    throw new S3cError(`no bucket for bundle "${arg}" (nor a local file of that name): pass --bucket NAME, set S3C_BUCKET, or give s3://bucket/key.tar or the path of a local tar`, ExitCode.usage)
  return bundleRef(arg, loc)
}

export function cacheDir(): string {
  if (process.env.S3C_CACHE_DIR) return process.env.S3C_CACHE_DIR
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 's3c', 'index')
}

