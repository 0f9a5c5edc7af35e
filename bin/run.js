#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (MiB, V8's young generation; Node's default is 16): a run's garbage is
// mostly short-lived, and a young generation a quarter the size lowers the peak RSS by ~25 MiB at
// the same speed (docs/DESIGN.md, "Memory"). V8 reads it only at start-up, so it is here, where
// `s3c` starts; `node bin/run.js` without it runs with Node's default.
// The SDK warns about Node 20 on every run; s3c supports Node >= 20.19 on purpose.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
import v8 from 'node:v8'
// A run's heap is mostly short-lived garbage (listing pages, promises per file): V8's default
// growth lets it reach 4-5x the live heap before collecting. Growing it by 20% at a time keeps
// the peak near 140 MiB (175-200 MiB by default, 50,000 files) for ~5% more CPU; NODE_OPTIONS
// may say otherwise (docs/DESIGN.md, "Memory").
if (!/heap-growing-percent/.test(process.env.NODE_OPTIONS ?? '')) v8.setFlagsFromString('--heap-growing-percent=20')
import {execute} from '@oclif/core'
await execute({dir: import.meta.url})
