/**
 * How many files the next batch job takes. Redis traffic is per job, so batches are large
 * (`max`, 64) in the middle of a run; but a worker takes jobs whole, so:
 * - the first jobs of a run ramp up (1, 2, 4, … files), so every worker has work at once rather
 *   than the first worker taking everything while the walk is young;
 * - the tail (`end`: the walk finished, or paused, with `remaining` files held back) is cut
 *   guided: each job takes remaining / (2 × workers), so the last jobs are a file or two and no
 *   worker finishes long before the others.
 */
export function batchSize(p: {emitted: number; remaining: number; end: boolean; workers: number; max: number}): number {
  const cap = Math.min(p.max, 2 ** Math.min(p.emitted, 30))
  if (!p.end) return cap
  return Math.max(1, Math.min(cap, Math.ceil(p.remaining / (2 * Math.max(1, p.workers)))))
}
