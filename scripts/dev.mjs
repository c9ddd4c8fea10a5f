// `npm run dev`: the sync server (restarting on change) and Vite's dev server
// with hot reload, side by side. Open the URL Vite prints; it proxies /api
// and /ws to the server on PORT (default 1234).
import { spawn } from "node:child_process";

const children = [
  spawn("node", ["--import", "tsx", "--watch", "server/src/main.ts"], {
    stdio: "inherit",
    // Vite serves the page from its own origin; let it open sockets.
    env: {
      LOG_LEVEL: "debug",
      ALLOWED_ORIGINS: "http://localhost:5173,http://127.0.0.1:5173",
      ...process.env,
    },
  }),
  spawn("npx", ["vite", "--config", "client/vite.config.ts"], { stdio: "inherit" }),
];

function stop(signal) {
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
for (const child of children) {
  child.on("exit", (code) => {
    stop("SIGTERM");
    process.exitCode = code ?? 0;
  });
}
