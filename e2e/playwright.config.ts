/**
 * End-to-end tests: the real server (SQLite in a fresh temp folder) serving
 * the built client, driven by Debian's Chromium.
 *
 * Playwright evaluates this file in the runner and again in every worker.
 * The port and data folder are chosen once, in the runner, and handed to the
 * workers through the environment they inherit, so all agree on baseURL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, devices } from "@playwright/test";

const PORT_VAR = "COWRITE_E2E_PORT";
const DATA_DIR_VAR = "COWRITE_E2E_DATA_DIR";

const e2eDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(e2eDir, "..");

/** A port the OS says is free right now (listen on 0, read it, close). */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the free port"));
      });
    });
  });
}

if (process.env[PORT_VAR] === undefined) {
  // Runner only: workers inherit both variables.
  process.env[PORT_VAR] = String(await findFreePort());
  const created = mkdtempSync(path.join(tmpdir(), "cowrite-e2e-"));
  process.env[DATA_DIR_VAR] = created;
  // The runner stops the server before it exits, so the database is closed by then.
  process.on("exit", () => rmSync(created, { recursive: true, force: true }));
}
const port = Number(process.env[PORT_VAR]);
const dataDir = process.env[DATA_DIR_VAR] ?? "";
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: e2eDir,
  testMatch: "*.spec.ts",
  outputDir: path.join(repoRoot, "test-results"),
  fullyParallel: true,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  // The machine has two cores; each test drives two browser contexts.
  workers: 2,
  reporter: "list",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
          ],
        },
      },
    },
  ],
  webServer: {
    command: "node --import tsx server/src/main.ts",
    cwd: repoRoot,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
    },
  },
});
