/**
 * Builds the React part of the /embed-demo page into client/dist
 * (embed-demo-react.js, React bundled in). The page itself is static
 * (client/public/embed-demo.html) and uses the library from /lib.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  publicDir: false,
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
