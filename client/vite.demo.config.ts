/**
 * Builds the React part of the /embed-demo page into client/dist
 * (embed-demo-react.js, React bundled in). The page itself is static
 * (client/public/embed-demo.html) and uses the library from /lib.
 *
 * The React wrapper's import of the library (src/react.tsx -> ./lib.ts) is
 * left to the browser as `/lib/cowrite.js`, the module the page already
 * loaded: one copy of the library, Yjs and Lexical per page, as a host app's
 * bundler would give it (two copies of Yjs break its constructor checks).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  publicDir: false,
  plugins: [
    {
      name: "cowrite-library-from-page",
      enforce: "pre",
      resolveId(source, importer) {
        if (source === "./lib.ts" && importer?.endsWith("/src/react.tsx")) {
          return { id: "/lib/cowrite.js", external: "absolute" };
        }
        return null;
      },
    },
  ],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    // The app build already wrote client/dist; add to it.
    emptyOutDir: false,
    sourcemap: true,
    lib: {
      entry: fileURLToPath(new URL("./demo/react-demo.tsx", import.meta.url)),
      formats: ["es"],
      fileName: () => "embed-demo-react.js",
      cssFileName: "embed-demo-react",
    },
  },
});
