import {outputFlags} from './output.js'
import {retryFlags, runFlags, s3Flags, transferFlags} from './flags.js'
import {didYouMeanFlag} from './suggest.js'

/**
 * The flags s5cmd and aws users give before the verb (`s3c --endpoint-url URL ls`, `s3c --json
 * ls`, `s3c --dry-run rm …`): how to reach S3, the output, the retry policy, requests in flight,
 * a dry run. Each verb declares its own; before the verb they are moved after it, for the verbs
 * that take them (hooks/command-not-found.ts).
 */
const GLOBAL_FLAGS: Record<string, {type: 'boolean' | 'option'; char?: string; allowNo?: boolean}> = {
  ...outputFlags, ...s3Flags, ...retryFlags, 'thread-count': runFlags['thread-count'], 'dry-run': transferFlags['dry-run'],
}

/** What other tools call a flag s3c has under another name. */
const OTHER_NAMES: Record<string, string> = {'--numworkers': '--thread-count', '--retry-count': '--max-retry', '--output': '--json', '--dryrun': '--dry-run'}

/** A command as oclif's manifest describes it: enough to tell which flags it takes. */
export interface CommandFlags {
  id: string
  flags: Record<string, {type: string; char?: string; allowNo?: boolean}>
}

/** The flag a word before the verb names, and how many words it takes (with its value); undefined when it is no global flag. */
function globalAt(words: string[], i: number): {name: string; width: number} | undefined {
  const word = words[i]
  const long = /^--([^=]+)(=.*)?$/s.exec(word)
  if (long) {
    const [, typed, value] = long
    const negated = typed.startsWith('no-') && GLOBAL_FLAGS[typed.slice(3)]?.allowNo ? typed.slice(3) : undefined
    const name = negated ?? typed
    const flag = GLOBAL_FLAGS[name]
    if (!flag || (negated && value !== undefined)) return undefined
    return {name, width: flag.type === 'option' && value === undefined ? 2 : 1}
  }
  const short = /^-([^-])(.*)$/s.exec(word)
  if (!short) return undefined
  const entry = Object.entries(GLOBAL_FLAGS).find(([, f]) => f.char === short[1])
  if (!entry) return undefined
  const [name, flag] = entry
  if (flag.type === 'boolean') return short[2] === '' ? {name, width: 1} : undefined
  return {name, width: short[2] === '' ? 2 : 1}
}

/**
 * `s3c [GLOBAL FLAGS] VERB [ARGS]` as oclif parses it: the verb's id, and its arguments with the
 * global flags first. Words are the command line after `s3c`, starting with a flag (oclif found no
 * command). A flag that is no global one, a global flag the verb does not take, or no verb, is one
 * line for the user (`error`, exit 2).
 */
export function globalsAfterVerb(words: string[], commands: CommandFlags[]): {id: string; argv: string[]} | {error: string} {
  const findCommand = (id: string) => commands.find(c => c.id === id)
  let i = 0
  const given: {name: string; words: string[]}[] = []
  while (i < words.length && words[i].startsWith('-') && words[i] !== '-') {
    const at = globalAt(words, i)
    const typed = words[i].replace(/=.*$/s, '')
    if (!at) {
      const other = OTHER_NAMES[typed]
      if (other) return {error: `unknown flag ${typed}: s3c's is ${other}; see s3c help`}
      const bare = typed.replace(/^-+/, '')
      if (commands.some(c => Object.hasOwn(c.flags, bare) || (bare.length === 1 && Object.values(c.flags).some(f => f.char === bare)))) {
        const verb = words.slice(i + 1).find(w => findCommand(w))
        return {error: `${typed} goes after the command (s3c ${verb ?? 'COMMAND'} ${typed} …): only ${globalNames()} may come before it`}
      }
      return {error: `unknown flag ${typed}${didYouMeanFlag(typed, ['--help', '--version', ...Object.keys(GLOBAL_FLAGS).map(n => `--${n}`)])}; see s3c help`}
    }
    if (i + at.width > words.length) return {error: `${typed} needs a value`}
    given.push({name: at.name, words: words.slice(i, i + at.width)})
    i += at.width
  }
  const verb = words[i]
  if (verb === undefined) return {error: `${given.map(g => g.words[0]).join(' ')} needs a command after it (e.g. s3c ls ${given[0].words.join(' ')}); see s3c help`}
  // A topic's command (`tar create`) is two words.
  const two = words[i + 1] === undefined ? undefined : `${verb}:${words[i + 1]}`
  const id = two !== undefined && findCommand(two) ? two : verb
  const command = findCommand(id)
  if (!command) return {id, argv: [...given.flatMap(g => g.words), ...words.slice(i + 1)]}
  const shown = id.replaceAll(':', ' ')
  const missing = given.find(g => !Object.hasOwn(command.flags, g.name))
  if (missing) return {error: `--${missing.name} is not a flag of ${shown}: see s3c ${shown} --help`}
  return {id, argv: [...given.flatMap(g => g.words), ...words.slice(i + id.split(':').length)]}
}

function globalNames(): string {
  return Object.keys(GLOBAL_FLAGS).map(name => `--${name}`).join(', ')
}
