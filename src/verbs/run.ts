import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
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

/** Whether a line ends inside quotes (its closing quote is missing), as sh reads quotes and backslashes. */
export function openQuote(text: string): '"' | "'" | undefined {
  let quote: '"' | "'" | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote === "'") { if (c === "'") quote = undefined; continue }
    if (c === '\\') { i++; continue }
    // A comment starts a word and runs to the end (quotes in it are text: `# don't`).
    if (c === '#' && !quote && (i === 0 || /\s/.test(text[i - 1]))) break
    if (c === '"') quote = quote ? undefined : '"'
    else if (c === "'" && !quote) quote = "'"
  }
  return quote
}

/** A line that ends with an unescaped backslash goes on on the next one, as in sh. */
function continues(text: string): boolean {
  const m = /\\+$/.exec(text)
  return m !== null && m[0].length % 2 === 1
}

/**
 * The command lines of a file ('-': stdin); blank lines and # comments are left out, a line
 * ending with `\` is joined with the next, and a line whose quote never closes is an error of
 * that line (never run as sh would not run it). A file that cannot be read, or a folder, is
 * refused before any line runs.
 */
export async function* commandLines(input: string | Readable): AsyncGenerator<{line: number; text: string; error?: string}> {
  const refuse = (why: string) => new S3cError(`cannot read ${input as string} (${why}): give a file of s3c commands, or - for stdin`, ExitCode.usage)
  if (typeof input === 'string') {
    const st = await stat(input).catch((error: Error) => { throw refuse(errorMessage(error)) })
    if (st.isDirectory()) throw refuse('it is a folder')
  }
  const stream = typeof input === 'string' ? createReadStream(input) : input
  if (typeof input === 'string') {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', (error: Error) => reject(refuse(errorMessage(error))))
    })
  }
  let n = 0
  let held: {line: number; text: string} | undefined
  for await (const raw of createInterface({input: stream, crlfDelay: Infinity})) {
    n++
    const text = held ? `${held.text.slice(0, -1)}${raw}` : raw
    const first = held?.line ?? n
    held = undefined
    if (continues(text) && !text.trimStart().startsWith('#')) {
      held = {line: first, text}
      continue
    }
    const trimmed = text.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const quote = openQuote(trimmed)
    yield quote ? {line: first, text: trimmed, error: `unterminated ${quote} quote: close it (a line is one command; end a line with \\ to go on)`} : {line: first, text: trimmed}
  }
  if (held) yield {line: held.line, text: held.text, error: 'the last line ends with \\ and nothing follows: remove the backslash'}
}

/**
 * `s3c run`: the lines run in this process, `jobs` at a time, each by `execute` (a verb called
 * directly: no process per line). Each line's outcome is reported as it ends; the result counts
 * the lines and those that failed.
 */
export async function runLines(lines: AsyncIterable<{line: number; text: string; error?: string}>, opts: {jobs: number; signal?: AbortSignal;
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
        if (l.error) throw new S3cError(l.error, ExitCode.usage)
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
