import {Flags} from '@oclif/core'
import {ExitCode, S3cError} from '../base/errors.js'
import {checkObjectSettings} from '../base/storage.js'
import {parseSize} from '../base/units.js'
import {transferDefaults} from '../run/defaults.js'
import type {CopyConditions, CopySettings} from '../jobs/types.js'
import {parseLocation, parseS3Url} from '../base/location.js'
import {copyDefaults, type CopyOptions} from '../verbs/cp.js'
import type {SyncOptions} from '../verbs/sync.js'
import {repeatable} from './flags.js'
import {runOptions, type RunFlagValues} from './options.js'
import {stateFlags} from './flags.js'

const size = Flags.custom<number>({parse: async input => parseSize(input)})

const FILTER_RULE = 'wildcard on the name under the source folder or the wildcard\'s folder; * matches across / (s5cmd, aws); repeatable; exclude wins'

/** The flags of cp and mv (and of their lines in `s3c run`). */
export const copyFlags = {
  include: repeatable(`only names matching this ${FILTER_RULE}`),
  exclude: repeatable(`skip names matching this ${FILTER_RULE}`),
  'no-clobber': Flags.boolean({char: 'n', description: 'do not overwrite a destination that exists'}),
  'if-size-differ': Flags.boolean({description: 'copy only when the destination\'s size differs'}),
  'if-source-newer': Flags.boolean({description: 'copy only when the source is newer than the destination'}),
  flatten: Flags.boolean({description: 'keep only the base name of each file (folders are not recreated)'}),
  'storage-class': Flags.string({description: 'storage class of the new objects (STANDARD_IA, GLACIER_IR, …)'}),
  'content-type': Flags.string({description: 'content type of the new objects (S3→S3: replaces the source\'s metadata)'}),
  metadata: repeatable('metadata key=value of the new objects, repeatable (S3→S3: replaces the source\'s metadata)'),
  sse: Flags.string({description: 'server-side encryption: AES256 or aws:kms'}),
  'sse-kms-key-id': Flags.string({description: 'the KMS key of --sse aws:kms'}),
  acl: Flags.string({description: 'canned ACL of the new objects (private, public-read, bucket-owner-full-control, …)'}),
  'dry-run': Flags.boolean({description: 'print what would be copied; send no writes'}),
  'multipart-threshold': size({description: 'local transfers: files at or above this size move in parallel parts', default: transferDefaults.multipartThreshold}),
  'part-size': size({description: 'local transfers: part size of large files', default: transferDefaults.partSize}),
  'copy-threshold': size({description: 'S3→S3: objects above this size are copied in parallel UploadPartCopy parts (at most 5 GiB)', default: copyDefaults.copyThreshold, hidden: true}),
  'copy-part-size': size({description: 'S3→S3: the range of each UploadPartCopy', default: copyDefaults.copyPartSize, hidden: true}),
}

export interface CopyFlagValues extends RunFlagValues {
  'no-clobber'?: boolean
  'if-size-differ'?: boolean
  'if-source-newer'?: boolean
  flatten?: boolean
  'storage-class'?: string
  'content-type'?: string
  metadata?: string[]
  sse?: string
  'sse-kms-key-id'?: string
  acl?: string
  'copy-threshold'?: number
  'copy-part-size'?: number
}

/** --metadata k=v (repeatable) as a map; a value without '=' is bad input. */
export function parseMetadata(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined
  const out: Record<string, string> = {}
  for (const p of pairs) {
    const at = p.indexOf('=')
    if (at <= 0) throw new S3cError(`--metadata "${p}" is not key=value: write it as --metadata owner=alice`, ExitCode.usage)
    out[p.slice(0, at).toLowerCase()] = p.slice(at + 1)
  }
  return out
}

/** What the new objects get: metadata or a content type given means REPLACE, else the source's are kept (COPY). */
export function copySettings(flags: Pick<CopyFlagValues, 'sse' | 'sse-kms-key-id' | 'metadata' | 'content-type' | 'storage-class' | 'acl'>): CopySettings {
  const sse = flags.sse
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms' && sse !== 'aws:kms:dsse')
    throw new S3cError(`--sse "${sse}" is not a server-side encryption: use AES256 or aws:kms`, ExitCode.usage)
  if (flags['sse-kms-key-id'] && !sse?.startsWith('aws:kms')) throw new S3cError('--sse-kms-key-id needs --sse aws:kms', ExitCode.usage)
  const metadata = parseMetadata(flags.metadata)
  const settings: CopySettings = {
    replace: metadata !== undefined || flags['content-type'] !== undefined, metadata, contentType: flags['content-type'],
    storageClass: flags['storage-class'], sse, sseKmsKeyId: flags['sse-kms-key-id'], acl: flags.acl,
  }
  checkObjectSettings(settings)
  return settings
}

export function copyConditions(flags: CopyFlagValues): CopyConditions | undefined {
  const c = {noClobber: flags['no-clobber'], ifSizeDiffer: flags['if-size-differ'], ifSourceNewer: flags['if-source-newer']}
  return Object.values(c).some(Boolean) ? c : undefined
}

/** The one place cp's and mv's flags become the verb's options. */
export async function copyOptions(flags: CopyFlagValues, source: string, destination: string): Promise<CopyOptions> {
  const s3 = [source, destination].find(a => parseLocation(a).type === 's3')
  const location = s3 ? parseS3Url(s3) : {bucket: '', prefix: ''}
  const {location: _location, ...run} = await runOptions(flags, location)
  return {
    ...run, source, destination, settings: copySettings(flags), conditions: copyConditions(flags), flatten: flags.flatten,
    copyThreshold: flags['copy-threshold'], copyPartSize: flags['copy-part-size'],
  }
}

/** The flags of sync (and of its lines in `s3c run`). */
export const syncFlags = {
  include: copyFlags.include, exclude: copyFlags.exclude,
  delete: Flags.boolean({description: 'delete what the destination has and the source does not (names the filters select only)'}),
  'size-only': Flags.boolean({description: 'a counterpart of the same size is unchanged (no time compare)'}),
  'exact-timestamps': Flags.boolean({description: 'S3→S3: a same-size object is unchanged only when its time is the source\'s (not merely older than its copy)'}),
  force: Flags.boolean({description: 'transfer everything, even unchanged files'}),
  checksum: Flags.boolean({description: 'local↔S3: compare content (sha256) instead of size and modification time'}),
  'follow-symlinks': Flags.boolean({description: 'local→S3: upload what symbolic links point to'}),
  'dry-run': copyFlags['dry-run'],
  'storage-class': copyFlags['storage-class'], sse: copyFlags.sse, 'sse-kms-key-id': copyFlags['sse-kms-key-id'], acl: copyFlags.acl,
  'multipart-threshold': copyFlags['multipart-threshold'], 'part-size': copyFlags['part-size'],
  'copy-threshold': copyFlags['copy-threshold'], 'copy-part-size': copyFlags['copy-part-size'],
  // local↔S3: where the sync state lives, as for upload and download.
  ...stateFlags,
}

export interface SyncFlagValues extends CopyFlagValues {
  delete?: boolean
  'size-only'?: boolean
  'exact-timestamps'?: boolean
  'follow-symlinks'?: boolean
}

/** The one place sync's flags become the verb's options. */
export async function syncOptions(flags: SyncFlagValues, source: string, destination: string): Promise<SyncOptions> {
  const s3 = [source, destination].find(a => parseLocation(a).type === 's3')
  const {location: _location, ...run} = await runOptions(flags, s3 ? parseS3Url(s3) : {bucket: '', prefix: ''})
  return {
    ...run, source, destination, delete: flags.delete, sizeOnly: flags['size-only'], exactTimestamps: flags['exact-timestamps'],
    settings: copySettings(flags), followSymlinks: flags['follow-symlinks'], copyThreshold: flags['copy-threshold'], copyPartSize: flags['copy-part-size'],
  }
}
