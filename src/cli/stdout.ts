/** Writes to stdout, waiting when its buffer is full (a listing of millions of keys into a pipe keeps memory flat). */
export async function writeStdout(text: string | Buffer): Promise<void> {
  if (!process.stdout.write(text)) await new Promise<void>(resolve => process.stdout.once('drain', () => resolve()))
}
