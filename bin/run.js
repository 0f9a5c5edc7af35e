#!/usr/bin/env node
// The SDK warns about Node 20 on every run; s3c supports Node >= 20.19 on purpose.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
import {execute} from '@oclif/core'
await execute({dir: import.meta.url})
