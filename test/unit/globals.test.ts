import assert from 'node:assert/strict'
import {globalsAfterVerb, type CommandFlags} from '../../src/cli/globals.js'

/** Commands as oclif's manifest describes them (only what globalsAfterVerb reads). */
const commands: CommandFlags[] = [
  {id: 'ls', flags: {json: {type: 'boolean'}, quiet: {type: 'boolean', char: 'q'}, 'endpoint-url': {type: 'option'}, log: {type: 'option'},
    'path-style': {type: 'boolean', allowNo: true}, long: {type: 'boolean', char: 'l'}}},
  {id: 'upload', flags: {json: {type: 'boolean'}, 'thread-count': {type: 'option', char: 't'}, 'dry-run': {type: 'boolean'}, exclude: {type: 'option'}}},
  {id: 'tar:create', flags: {log: {type: 'option'}, 'thread-count': {type: 'option', char: 't'}}},
]

describe('global flags before the verb (cli/globals.ts)', function () {
  it('are moved after the verb, with their values, in every spelling', function () {
    assert.deepEqual(globalsAfterVerb(['--json', 'ls', 's3://b/'], commands), {id: 'ls', argv: ['--json', 's3://b/']})
    assert.deepEqual(globalsAfterVerb(['--endpoint-url', 'http://h', '-q', 'ls', '-l'], commands), {id: 'ls', argv: ['--endpoint-url', 'http://h', '-q', '-l']})
    assert.deepEqual(globalsAfterVerb(['--endpoint-url=http://h', '--no-path-style', 'ls'], commands), {id: 'ls', argv: ['--endpoint-url=http://h', '--no-path-style']})
    assert.deepEqual(globalsAfterVerb(['-t8', '--dry-run', 'upload', 'd', 's3://b/'], commands), {id: 'upload', argv: ['-t8', '--dry-run', 'd', 's3://b/']})
    assert.deepEqual(globalsAfterVerb(['--log', 'debug', '-t', '4', 'tar', 'create', 'x'], commands), {id: 'tar:create', argv: ['--log', 'debug', '-t', '4', 'x']})
    // A value that looks like a command is the flag's value.
    assert.deepEqual(globalsAfterVerb(['--log', 'ls', 'ls'], commands), {id: 'ls', argv: ['--log', 'ls']})
  })

  it('an unknown verb is left to the unknown-command message, the flags kept', function () {
    assert.deepEqual(globalsAfterVerb(['--json', 'lss', 'x'], commands), {id: 'lss', argv: ['--json', 'x']})
  })

  it('a global flag the verb does not take, a verb\'s own flag, another tool\'s name, a missing value or verb: one line', function () {
    assert.deepEqual(globalsAfterVerb(['--dry-run', 'ls'], commands), {error: '--dry-run is not a flag of ls: see s3c ls --help'})
    assert.deepEqual(globalsAfterVerb(['-t', '4', 'tar', 'create'], commands), {id: 'tar:create', argv: ['-t', '4']})
    assert.match((globalsAfterVerb(['--exclude', 'x', 'upload'], commands) as {error: string}).error, /^--exclude goes after the command \(s3c upload --exclude …\)/)
    assert.match((globalsAfterVerb(['--numworkers', '4', 'ls'], commands) as {error: string}).error, /s3c's is --thread-count/)
    assert.deepEqual(globalsAfterVerb(['--log'], commands), {error: '--log needs a value'})
    assert.match((globalsAfterVerb(['--json'], commands) as {error: string}).error, /^--json needs a command after it/)
    assert.match((globalsAfterVerb(['--jsn', 'ls'], commands) as {error: string}).error, /^unknown flag --jsn \(did you mean --json\?\)/)
  })
})
