const MiB = 1024 * 1024

/**
 * The defaults of every run (s3concurrent's flags and ours). Their own module: the flags of
 * every command read them, and importing the run machinery (src/run/session.ts, with every job
 * handler) only to print --help or cat one object would cost start-up time.
 */
export const transferDefaults = {
  /** Where the limit starts; without --thread-count it moves with the link (src/run/adaptive.ts), up to adaptiveMax. */
  threadCount: 32,
  /** The most requests in flight a run goes to by itself: sockets, and memory for parts (8 MiB each: 1 GiB). */
  adaptiveMax: 128,
  maxRetry: 10,
  multipartThreshold: 8 * MiB,
  partSize: 8 * MiB,
}
