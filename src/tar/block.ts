/** A tar block: headers and member data are padded to it. Its own module: the index format (src/s3ci/format.ts) needs the size but not node-tar. */
export const BLOCK = 512
