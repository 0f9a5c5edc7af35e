#!/bin/sh
":" //; case "$NODE_OPTIONS" in *heap-growing-percent*) g= ;; *) g=--heap-growing-percent=20 ;; esac; exec node --max-semi-space-size=4 $g "$0" "$@"
// Started as a program (`s3c`, npm's bin link, ./bin/run.js), the shell line above re-runs this
// file under Node with two V8 flags (docs/DESIGN.md, "Memory"), which V8 reads best at start-up:
// - --max-semi-space-size=4 (MiB, the young generation; Node's default is 16): a run's garbage is
//   mostly short-lived, and a young generation a quarter the size lowers the peak RSS by ~25 MiB
//   at the same speed;
// - --heap-growing-percent=20: V8's default growth lets the heap reach 4-5x the live heap before
//   collecting; growing it by 20% at a time keeps the peak near 140 MiB (175-200 MiB by default,
//   50,000 files) for ~5% more CPU. NODE_OPTIONS may say otherwise.
// A plain `#!/usr/bin/env -S node …` would need an env with -S, which BusyBox (Alpine) may lack.
// For Node, that line is a string and a comment. `node bin/run.js` gets the second flag below
// (node:v8 is loaded only then: it costs start-up time).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
const growth = /heap-growing-percent/
if (!process.execArgv.some(a => growth.test(a)) && !growth.test(process.env.NODE_OPTIONS ?? '')) (await import('node:v8')).default.setFlagsFromString('--heap-growing-percent=20')
// The CLI's bundle (scripts/bundle.js, built by `npm run build`): oclif and the command in a few files.
await import('../dist/bundle/cli/main.js')
