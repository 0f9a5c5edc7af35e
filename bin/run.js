#!/bin/sh
":" //; exec node --max-semi-space-size=4 "$0" "$@"
// Started as a program (`s3c`, npm's bin link, ./bin/run.js), the shell line above re-runs this
// file under Node with --max-semi-space-size=4 (MiB, V8's young generation; Node's default is
// 16): a run's garbage is mostly short-lived, and a young generation a quarter the size lowers
// the peak RSS by ~25 MiB at the same speed (docs/DESIGN.md, "Memory"). V8 reads the flag only at
// start-up, so it cannot be set from here; a plain `#!/usr/bin/env -S node …` would need an env
// with -S, which BusyBox (Alpine) may lack. For Node, that line is a string and a comment;
// `node bin/run.js` runs with Node's default.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
import v8 from 'node:v8'
// A run's heap is mostly short-lived garbage (listing pages, promises per file): V8's default
// growth lets it reach 4-5x the live heap before collecting. Growing it by 20% at a time keeps
// the peak near 140 MiB (175-200 MiB by default, 50,000 files) for ~5% more CPU; NODE_OPTIONS
// may say otherwise (docs/DESIGN.md, "Memory").
if (!/heap-growing-percent/.test(process.env.NODE_OPTIONS ?? '')) v8.setFlagsFromString('--heap-growing-percent=20')
// The CLI's bundle (scripts/bundle.js, built by `npm run build`): oclif and the command in a few files.
await import('../dist/bundle/cli/main.js')
