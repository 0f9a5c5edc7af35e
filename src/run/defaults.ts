const MiB = 1024 * 1024

/**
 * The defaults of every run (s3concurrent's flags and ours). Their own module: the flags of
 * every command read them, and importing the run machinery (src/run/session.ts, with every job
 * handler) only to print --help or cat one object would cost start-up time.
 */
export const transferDefaults = {
  /** Requests in flight where a count is fixed and the user gave none (rm, sockets of a connection). */
  threadCount: 32,
  /**
   * Where the limit starts without --thread-count (it then moves with the link: src/run/adaptive.ts).
   * 64, not 32: on a near server both run at the CPU's pace, and at +30 ms the first round trips
   * of a short run are what slow start costs (bench:remote).
   */
  adaptiveStart: 64,
  /** The most requests in flight a run goes to by itself: sockets, and memory for parts (8 MiB each: 1 GiB). */
  adaptiveMax: 128,
  /**
   * Bytes of large files' parts (upload parts, download ranges) in flight at once when requests
   * in flight are found by measuring: 16 parts of 8 MiB (src/run/slots.ts, PartBudget).
   */
  partBytesInFlight: 128 * MiB,
  /** Parts in flight at least, whatever their size (parts grown to fit 10,000 still move in parallel). */
  minPartsInFlight: 4,
  maxRetry: 10,
  multipartThreshold: 8 * MiB,
  partSize: 8 * MiB,
}
