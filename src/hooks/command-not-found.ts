import type {Hook} from '@oclif/core'
import {unknownCommandMessage} from '../cli/suggest.js'

/**
 * `s3c lss s3://b/`: one line naming the unknown command and the nearest ones, exit 2 (bad
 * input); the message is unknownCommandMessage's (cli/suggest.ts), as for `s3c help lss`.
 */
const hook: Hook<'command_not_found'> = async function ({config, id, argv}) {
  const message = unknownCommandMessage(id, config.commands)
  process.stderr.write(`s3c: ${message}\n`)
  if ((argv ?? []).includes('--json')) process.stdout.write(JSON.stringify({error: message, code: 'InvalidArgument', exitCode: 2}) + '\n')
  process.exitCode = 2
}

export default hook
