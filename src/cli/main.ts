/**
 * The CLI: bin/run.js imports this module's bundle (dist/bundle/cli/main.js, made by
 * scripts/bundle.js), and oclif takes it from there. oclif finds s3c's package.json by walking up
 * from here, and each command's bundle from oclif.manifest.json.
 */
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
