/** Polls until cond() holds (a fixed sleep would be either flaky or slow). */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(r => setTimeout(r, 20))
  }
}
