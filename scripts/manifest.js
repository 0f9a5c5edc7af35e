#!/usr/bin/env node
// Writes oclif.manifest.json after each build. With it, oclif knows every command's flags and
// file without importing the command modules, so `s3c --version` or `s3c ls` loads only what the
// one command runs (without it, oclif imports all commands, and the SDK with them, at start).
// oclif's own `oclif manifest` does the same through this Plugin API; this avoids its ~300 deps.
import {writeFileSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const file = join(root, 'oclif.manifest.json')
rmSync(file, {force: true})
const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true})
await plugin.load()
writeFileSync(file, JSON.stringify(plugin.manifest, null, 1) + '\n')
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
