/**
 * Builds the browser client into client/dist, which the Cowrite server
 * serves. In development, Vite proxies the API and WebSocket to the server.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const clientRoot = fileURLToPath(new URL(".", import.meta.url));
const serverUrl = process.env.COWRITE_SERVER_URL ?? "http://127.0.0.1:1234";

export default defineConfig({
  root: clientRoot,
  // The server returns index.html for /d/<id>, so asset URLs must be absolute.
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: {
      "/api": { target: serverUrl, changeOrigin: true },
      "/ws": { target: serverUrl, ws: true, changeOrigin: true },
    },
  },
});
