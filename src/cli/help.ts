import {Help} from '@oclif/core'
import {unknownCommandMessage} from './suggest.js'

/**
 * oclif's help, except for a command that does not exist (`s3c help lss`): the same one line as
 * any unknown command (cli/suggest.ts), exit 2, instead of oclif's own "Command lss not found".
 */
export default class S3cHelp extends Help {
  async showHelp(argv: string[]): Promise<void> {
    // `s3c --endpoint-url URL ls --help`: the help of ls (global flags may come first, cli/globals.ts).
    if (argv[0]?.startsWith('-') && !['--help', '-h'].includes(argv[0])) {
      const {globalsAfterVerb} = await import('./globals.js')
      const moved = globalsAfterVerb(argv, this.config.commands)
      if ('id' in moved) argv = [...moved.id.split(':'), ...moved.argv]
    }
    try {
      await super.showHelp(argv)
    } catch (error) {
      // oclif's wording for a subject that is neither a command nor a topic; anything else is not ours.
      const unknown = /^Command (.+) not found\.$/.exec((error as Error)?.message ?? '')
      if (!unknown) throw error
      process.stderr.write(`s3c: ${unknownCommandMessage(unknown[1], this.config.commands)}\n`)
      process.exitCode = 2
    }
  }
}
