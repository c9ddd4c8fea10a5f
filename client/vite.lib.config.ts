/**
 * Builds the embedding library into client/dist-lib: cowrite.js (the
 * framework-free API and <cowrite-editor>, every dependency bundled, so a
 * page can load it with one <script type="module">), react.js (the React
 * component; React itself stays external) and cowrite.css. Types come from
 * `tsc -p tsconfig.lib.json`.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL("./dist-lib", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    cssCodeSplit: false,
    lib: {
      entry: {
        cowrite: fileURLToPath(new URL("./src/lib.ts", import.meta.url)),
        react: fileURLToPath(new URL("./src/react.tsx", import.meta.url)),
      },
      formats: ["es"],
      cssFileName: "cowrite",
    },
    rollupOptions: {
      external: [/^react($|\/)/, /^react-dom($|\/)/],
    },
  },
});
