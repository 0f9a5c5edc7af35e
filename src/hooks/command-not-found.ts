import type {Hook} from '@oclif/core'
import {globalsAfterVerb} from '../cli/globals.js'
import {unknownCommandMessage} from '../cli/suggest.js'

/**
 * `s3c lss s3://b/`: one line naming the unknown command and the nearest ones, exit 2 (bad
 * input); the message is unknownCommandMessage's (cli/suggest.ts), as for `s3c help lss`.
 * `s3c --endpoint-url URL ls …` (a flag first, as s5cmd and aws take their global flags): the
 * flags before the verb are moved after it and the verb runs (cli/globals.ts).
 */
const hook: Hook<'command_not_found'> = async function ({config, id, argv}) {
  let message: string
  if (id.startsWith('-')) {
    const moved = globalsAfterVerb([id, ...argv ?? []], config.commands)
    if ('id' in moved) return config.runCommand(moved.id, moved.argv)
    message = moved.error
  } else {
    message = unknownCommandMessage(id, config.commands)
  }
  process.stderr.write(`s3c: ${message}\n`)
  if ((argv ?? []).includes('--json') || id === '--json') process.stdout.write(JSON.stringify({error: message, code: 'InvalidArgument', exitCode: 2}) + '\n')
  process.exitCode = 2
}

export default hook
