// `npm run build:server`: bundles the sync server into server/dist/main.js,
// so production runs plain `node` (no TypeScript loader in the process: it
// costs about 30 MB of RSS and a slower start). The workspace's own packages
// (@cowrite/*) are bundled in; every npm dependency stays an import resolved
// from node_modules at runtime (better-sqlite3 is native, pino loads workers).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildMemoryAddon } from "./build-native.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const externalDependencies = {
  name: "external-dependencies",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith("@cowrite/") ? undefined : { path: args.path, external: true },
    );
  },
};

await build({
  entryPoints: {
    main: path.join(root, "server/src/main.ts"),
    "token-cli": path.join(root, "server/src/token-cli.ts"),
    // Loaded by SqliteDocStore as a worker thread, from next to main.js.
    "sqlite-worker": path.join(root, "server/src/storage/sqlite-worker.ts"),
    // Loaded by the format pool (exports and imports) as a worker thread.
    "format-worker": path.join(root, "server/src/format-worker.ts"),
  },
  outdir: path.join(root, "server/dist"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  plugins: [externalDependencies],
  logLevel: "warning",
});

const addonFailure = buildMemoryAddon(path.join(root, "server/dist/release-memory.node"));
if (addonFailure) {
  console.warn(
    `build:server: release-memory addon not built (${addonFailure}); the server runs without it.`,
  );
}
