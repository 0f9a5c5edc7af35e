import type {Hook} from '@oclif/core'
import {didYouMean, didYouMeanFlag, orList} from '../cli/suggest.js'

/**
 * `s3c lss s3://b/`: one line naming the unknown command and the nearest ones, exit 2 (bad
 * input). oclif's own message joins the words with its separator ("command lss:s3://b/ not
 * found"); the words are taken apart again here, an s3:// URL kept whole.
 */
const hook: Hook<'command_not_found'> = async function ({config, id, argv}) {
  const words = id.split(/:(?!\/\/)/)
  const visible = config.commands.filter(c => !c.hidden).map(c => c.id.split(':'))
  const topics = new Set(visible.filter(w => w.length > 1).map(w => w[0]))
  const looksLikeOperand = (w: string) => /[/\\.]|^s3:/.test(w)
  let message: string
  if (words[0].startsWith('-')) {
    message = `unknown flag ${words[0]}${didYouMeanFlag(words[0], ['--help', '--version'])}; see s3c help`
  } else if (topics.has(words[0]) && words.length > 1) {
    const topic = words[0]
    const under = visible.filter(w => w[0] === topic && w.length > 1).map(w => w.join(' '))
    message = looksLikeOperand(words[1])
      ? `"${topic}" needs a command before "${words[1]}": ${orList(under)}; see s3c help ${topic}`
      : `unknown command "${topic} ${words[1]}"${didYouMean(`${topic} ${words[1]}`, under)}; see s3c help ${topic}`
  } else if (looksLikeOperand(words[0])) {
    message = `"${words[0]}" is not a command: give the command first (e.g. s3c ls ${words[0]}); see s3c help`
  } else {
    message = `unknown command "${words[0]}"${didYouMean(words[0], visible.map(w => w[0]))}; see s3c help`
  }
  process.stderr.write(`s3c: ${message}\n`)
  if ((argv ?? []).includes('--json')) process.stdout.write(JSON.stringify({error: message, exitCode: 2}) + '\n')
  process.exitCode = 2
}

export default hook
