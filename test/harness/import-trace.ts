// `node --import dist/test/harness/import-trace.js bin/run.js …` records what s3c loads in the
// file named by S3C_IMPORT_TRACE: the ES module URLs it resolves (import-trace-hooks.js), the files
// it requires (CommonJS, wrapped here), and the commands of its bundle it evaluates (the bundle
// writes `s3c:<id>` lines itself, scripts/bundle.js).
import {appendFileSync} from 'node:fs'
import Module, {register} from 'node:module'

register(new URL('./import-trace-hooks.js', import.meta.url))

const trace = process.env.S3C_IMPORT_TRACE
type Load = (request: string, parent: unknown, isMain: boolean) => unknown
const internal = Module as unknown as {_load: Load; _resolveFilename: (request: string, parent: unknown) => string}
if (trace) {
  const load = internal._load
  internal._load = function (request, parent, isMain) {
    try {
      appendFileSync(trace, internal._resolveFilename(request, parent) + '\n')
    } catch {}
    return load.call(this, request, parent, isMain)
  }
}
