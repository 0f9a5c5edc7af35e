import {createReadStream} from 'node:fs'
import {createInterface} from 'node:readline'
import type {Readable} from 'node:stream'
import {parse} from 'shell-quote'
import {errorMessage, ExitCode, S3cError} from '../base/errors.js'

/** One command line of a `run` file, split as a shell would (quotes, escapes; no expansion, no operators). */
export interface CommandLine {
  /** 1-based line number in the file. */
  line: number
  argv: string[]
}

/** What one line did: its output lines, and whether it failed. */
export interface LineOutcome {
  ok: boolean
  lines: string[]
  result?: Record<string, unknown>
}

/**
 * Splits one line into arguments with shell-quote (quotes and backslashes as in sh). `$NAME` stays
 * literal (a key may hold a `$`), an unquoted wildcard stays the word it was (s3c expands it, not
 * a shell), and an operator (`|`, `&&`, `>`) is refused: each line is one s3c command.
 */
export function splitLine(text: string): string[] {
  const argv: string[] = []
  for (const part of parse(text, (name: string) => `$${name}`)) {
    if (typeof part === 'string') argv.push(part)
    else if ('comment' in part) break
    else if ('op' in part && part.op === 'glob') argv.push((part as {pattern: string}).pattern)
    else throw new S3cError(`"${(part as {op: string}).op}" is a shell operator: a run file holds one s3c command a line`, ExitCode.usage)
  }
  if (argv[0] === 's3c') argv.shift()
  return argv
}

/** The command lines of a file ('-': stdin); blank lines and # comments are left out. */
export async function* commandLines(input: string | Readable): AsyncGenerator<{line: number; text: string}> {
  const stream = typeof input === 'string' ? createReadStream(input) : input
  if (typeof input === 'string') {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', (error: Error) => reject(new S3cError(`cannot read ${input} (${errorMessage(error)}): give a file of s3c commands, or - for stdin`, ExitCode.usage)))
    })
  }
  let n = 0
  for await (const text of createInterface({input: stream, crlfDelay: Infinity})) {
    n++
    const trimmed = text.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    yield {line: n, text: trimmed}
  }
}

/**
 * `s3c run`: the lines run in this process, `jobs` at a time, each by `execute` (a verb called
 * directly: no process per line). Each line's outcome is reported as it ends; the result counts
 * the lines and those that failed.
 */
export async function runLines(lines: AsyncIterable<{line: number; text: string}>, opts: {jobs: number; signal?: AbortSignal;
  execute: (cmd: CommandLine) => Promise<LineOutcome>; onOutcome: (cmd: {line: number; text: string}, outcome: LineOutcome) => void}): Promise<{lines: number; failed: number}> {
  let count = 0
  let failed = 0
  const running = new Set<Promise<void>>()
  for await (const l of lines) {
    if (opts.signal?.aborted) break
    count++
    const p = (async () => {
      let outcome: LineOutcome
      try {
        outcome = await opts.execute({line: l.line, argv: splitLine(l.text)})
      } catch (error) {
        outcome = {ok: false, lines: [`error: ${errorMessage(error)}`]}
      }
      if (!outcome.ok) failed++
      opts.onOutcome(l, outcome)
    })()
    running.add(p)
    void p.finally(() => running.delete(p))
    while (running.size >= opts.jobs) await Promise.race(running)
  }
  await Promise.all(running)
  return {lines: count, failed}
}
