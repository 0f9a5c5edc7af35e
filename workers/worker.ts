/**
 * Entry point for worker containers and process managers: `node dist/workers/worker.js [flags]`
 * is `s3c worker [flags]`.
 */
import {execute} from '@oclif/core'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
await execute({args: ['worker', ...process.argv.slice(2)], dir: new URL('../../package.json', import.meta.url).href})
