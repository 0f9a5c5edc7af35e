/**
 * The Content-Type an upload gets when none is given: by the file's name (mime-types), else
 * application/octet-stream. mime-types is imported on the first upload: it parses mime-db's
 * table when loaded (~20 ms), which commands that upload nothing (ls, rm, cp S3→S3) should not
 * pay at start-up.
 */
let mimeTypes: Promise<typeof import('mime-types')> | undefined

export async function contentTypeOf(name: string, given?: string): Promise<string> {
  if (given !== undefined) return given
  const mime = await (mimeTypes ??= import('mime-types').then(m => m.default))
  return mime.lookup(name) || 'application/octet-stream'
}
