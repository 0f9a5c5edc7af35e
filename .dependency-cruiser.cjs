/**
 * The module map of docs/DESIGN.md ("The map"), checked by `npm run check:deps` (and .ci/run).
 * Type-only imports count: a type is a dependency of the design even when no code loads it.
 */

/**
 * The layers, top to bottom. A module may import its own folder and any layer below its own, never
 * one above it nor a sibling on its line. Keep docs/DESIGN.md's map in step with this list.
 */
const MAP = [
  ['index.ts'],
  ['api'],
  ['commands', 'hooks'],
  ['cli'],
  ['dashboard'],
  ['verbs'],
  ['run'],
  ['jobs'],
  ['state'],
  ['storage'],
  ['s3ci'],
  ['tar'],
  ['local'],
  ['s3'],
  ['base'],
]
/** The library (index.ts, api/) sits above the CLI's folders in the list but never imports them. */
const LIBRARY = ['index.ts', 'api']
const CLI = ['commands', 'hooks', 'cli', 'dashboard']

/**
 * The storage backends' implementations: S3Storage and the S3 tree, the local store, the local
 * tree and range source. Only src/storage/open.ts (and what sits below verbs/ and beside the
 * backends: runners, handlers, the state, the index) imports them.
 */
const BACKENDS = '^src/(s3/(storage|tree|upload-stream)|local/(store|storage|tree))[.]ts$'

const esc = s => s.replace(/[.]/g, '\\.')
/** src/index.ts is a file; every other entry is a folder under src/. */
const pathOf = entry => entry.endsWith('.ts') ? `^src/${esc(entry)}$` : `^src/${entry}/`

const layerRules = MAP.flatMap((line, rank) => line.map(entry => {
  const below = MAP.slice(rank + 1).flat().filter(e => !(LIBRARY.includes(entry) && CLI.includes(e)))
  return {
    name: `map-${entry.replace(/\.ts$/, '')}`,
    comment: `src/${entry} may import only ${below.length > 0 ? below.map(e => `src/${e}`).join(', ') : 'its own folder'} (docs/DESIGN.md, "The map")`,
    severity: 'error',
    from: {path: pathOf(entry)},
    to: {path: '^src/', pathNot: [pathOf(entry), ...below.map(pathOf)]},
  }
}))

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules import each other in a circle: the map is a list, imports only go down it',
      severity: 'error',
      from: {},
      to: {circular: true},
    },
    {
      name: 'no-command-imports',
      comment: 'Commands are entry points that oclif loads one at a time: nothing imports them',
      severity: 'error',
      from: {path: '^src/'},
      to: {path: '^src/commands/'},
    },
    {
      name: 'storage-through-open',
      comment: 'Verbs, commands, the CLI and the library reach storage through the interfaces of src/base/storage.ts '
        + '(ObjectStore, S3Store, Tree), got from src/storage/open.ts (openStore, openS3/withS3, treeAt, openSourceRef): '
        + 'never a backend itself (docs/DESIGN.md, "One core"; CONTRIBUTING.md, "Adding a storage backend")',
      severity: 'error',
      from: {path: '^src/(index[.]ts$|api/|commands/|hooks/|cli/|dashboard/|verbs/)'},
      to: {path: BACKENDS},
    },
    {
      name: 'on-the-map',
      comment: 'A module in src/ outside the folders of the map: give its folder a line in MAP and docs/DESIGN.md',
      severity: 'error',
      from: {path: '^src/', pathNot: MAP.flat().map(pathOf)},
      to: {},
    },
    {
      name: 'on-the-map-alone',
      comment: 'A module in src/ outside the folders of the map that imports nothing and nothing imports',
      severity: 'error',
      from: {orphan: true, path: '^src/', pathNot: MAP.flat().map(pathOf)},
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import the check cannot resolve would escape every rule above',
      severity: 'error',
      from: {},
      to: {couldNotResolve: true},
    },
    ...layerRules,
  ],
  options: {
    tsConfig: {fileName: 'tsconfig.json'},
    tsPreCompilationDeps: true,
    doNotFollow: {path: 'node_modules'},
    moduleSystems: ['es6', 'cjs'],
    // Resolve packages as Node does (package.json "exports"): @oclif/core has no "main".
    enhancedResolveOptions: {exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types']},
  },
}
