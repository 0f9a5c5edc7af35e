// `node --import dist/test/harness/import-trace.js bin/run.js …` records the modules s3c loads.
import {register} from 'node:module'

register(new URL('./import-trace-hooks.js', import.meta.url))
