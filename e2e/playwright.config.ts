/**
 * End-to-end tests: the real server (SQLite in a fresh temp folder) serving
 * the built client, driven by Debian's Chromium.
 *
 * Two servers run: one with auth off for most specs (project "chromium"),
 * and one with AUTH_SECRET set for `auth-*.spec.ts` (project "auth"), which
 * mint their tokens with that secret (see auth-fixtures.ts).
 *
 * Playwright evaluates this file in the runner and again in every worker.
 * Ports, data folder and secret are chosen once, in the runner, and handed
 * to the workers through the environment they inherit, so all agree.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, devices } from "@playwright/test";
import { chromiumLaunchOptions } from "./chromium.ts";
import { AUTH_PORT_VAR, AUTH_SECRET_VAR, DATA_DIR_VAR, PORT_VAR } from "./env-vars.ts";

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
  let authPort = await findFreePort();
  while (String(authPort) === process.env[PORT_VAR]) authPort = await findFreePort();
  process.env[AUTH_PORT_VAR] = String(authPort);
  process.env[AUTH_SECRET_VAR] = randomBytes(32).toString("hex");
  const created = mkdtempSync(path.join(tmpdir(), "cowrite-e2e-"));
  process.env[DATA_DIR_VAR] = created;
  // The runner stops the server before it exits, so the database is closed by then.
  process.on("exit", () => rmSync(created, { recursive: true, force: true }));
}
const port = Number(process.env[PORT_VAR]);
const dataDir = process.env[DATA_DIR_VAR] ?? "";
const baseURL = `http://127.0.0.1:${port}`;
const authPort = Number(process.env[AUTH_PORT_VAR]);
const authBaseURL = `http://127.0.0.1:${authPort}`;
const AUTH_SPECS = "auth-*.spec.ts";

const chromium = {
  ...devices["Desktop Chrome"],
  launchOptions: chromiumLaunchOptions,
};

const serverDefaults = {
  command: "node --enable-source-maps server/dist/main.js",
  cwd: repoRoot,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: "pipe",
  stderr: "pipe",
} as const;

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
      testIgnore: AUTH_SPECS,
      use: chromium,
    },
    {
      name: "auth",
      testMatch: AUTH_SPECS,
      use: { ...chromium, baseURL: authBaseURL },
    },
  ],
  webServer: [
    {
      ...serverDefaults,
      url: `${baseURL}/healthz`,
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        LOG_LEVEL: "warn",
      },
    },
    {
      ...serverDefaults,
      url: `${authBaseURL}/healthz`,
      env: {
        PORT: String(authPort),
        HOST: "127.0.0.1",
        DATA_DIR: path.join(dataDir, "auth"),
        LOG_LEVEL: "warn",
        AUTH_SECRET: process.env[AUTH_SECRET_VAR] ?? "",
      },
    },
  ],
});
