// dependency-cruiser rules for src/: the import direction of the architecture (docs/architecture.md), run by
// `make depcheck` (and so by `make test`).
//
//   cli -> commands -> {pg, mysql, redis} -> backup -> {storage, pipeline, tar} -> config -> core
//
// A folder may import its own folder and any layer below it, never a layer above it. Folders in the same layer
// ({pg, mysql, redis}, {storage, pipeline, tar}) do not import each other: pg, mysql and redis are separate engines, and storage,
// pipeline and tar are independent building blocks that backup/ puts together. src/native holds the C addon only.
// Type-only imports count too (tsPreCompilationDeps): a type from a higher layer is still a dependency on it.

/** The layers, highest first; the folders of one entry form one layer. */
const LAYERS = [['cli'], ['commands'], ['pg', 'mysql', 'redis'], ['backup'], ['storage', 'pipeline', 'tar'], ['config'], ['core']];
const KNOWN = [...LAYERS.flat(), 'native'];

/** One rule per folder: everything above it and its siblings in the same layer are off limits. */
const layerRules = LAYERS.flatMap((layer, level) => layer.map((folder) => {
  const above = LAYERS.slice(0, level).flat();
  const siblings = layer.filter((f) => f !== folder);
  const forbidden = [...above, ...siblings];
  const below = LAYERS.slice(level + 1).flat();
  return forbidden.length === 0 ? null : {
    name: `layer-${folder}`,
    comment: `src/${folder} may import only ${below.length ? below.map((f) => `src/${f}`).join(', ') : 'itself'}` +
      ` (and itself); not ${forbidden.map((f) => `src/${f}`).join(', ')}`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: `^src/(${forbidden.join('|')})/` },
  };
})).filter((rule) => rule !== null);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'layer-unknown-folder',
      comment: `every module of src/ lives in a layer folder (${KNOWN.join(', ')}): add a new folder to LAYERS in .dependency-cruiser.cjs`,
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/(${KNOWN.join('|')})/` },
      to: {},
    },
    {
      name: 'native-is-c',
      comment: 'src/native holds the C addon (built by make native into build/); no TypeScript imports a module there',
      severity: 'error',
      from: {},
      to: { path: '^src/native/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycles inside src/ (lazy import() counts too)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing (a file that moved away)',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Only src/ is followed; packages and built-ins are leaves (an unresolvable import still shows up as one).
    doNotFollow: { path: 'node_modules', dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'core'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
