// The layering of DESIGN §9, checked in CI (`npm run lint:deps`, run by `npm test` before the suite): no import circles, and no
// import from a room that the importing room may not use. Shared helpers at src/*.ts (errors, fs-safe, log,
// types, ...) are open to every room.
const room = (r) => `^src/${r}/`;
/** Rooms each room may import besides itself and the shared src/*.ts files. */
const allowed = {
  ingest: [],
  postprocess: [],
  model: ['ingest', 'postprocess'],
  eval: ['ingest'],
  stream: ['ingest', 'model', 'postprocess'],
  // tds cv scores its folds with the batch pipeline (stream) exactly as a user's `tds process` would.
  train: ['ingest', 'model', 'eval', 'stream', 'postprocess'],
  // The job queue runs the batch pipeline (stream's processInput) on chunks of recordings.
  queue: ['ingest', 'model', 'stream'],
  // The benchmark measures every room, like the CLI, but never goes through the CLI.
  bench: ['ingest', 'model', 'postprocess', 'eval', 'train', 'stream', 'queue'],
};
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'import circles make load order and ownership unclear',
      from: {},
      to: { circular: true },
    },
    ...Object.entries(allowed).map(([r, ok]) => ({
      name: `layering-${r}`,
      severity: 'error',
      comment: `src/${r} may import only ${ok.length ? ok.join(', ') : 'no other room'} (DESIGN §9)`,
      from: { path: room(r) },
      to: { path: '^src/[^/]+/', pathNot: [room(r), ...ok.map(room)] },
    })),
    {
      name: 'web-protocol-only',
      severity: 'error',
      comment: 'the overlay page shares only the protocol types with the server',
      from: { path: '^web/' },
      to: { path: '^src/', pathNot: '^src/stream/protocol\\.ts$' },
    },
    {
      name: 'shared-stays-shared',
      severity: 'error',
      comment: 'the shared src/*.ts files import no room',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/index\\.ts$' },
      to: { path: '^src/[^/]+/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'] },
  },
};
