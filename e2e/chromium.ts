/**
 * How to launch Debian's Chromium headless (as root, offline): used by the
 * Playwright config and scripts/screenshot.ts. CHROMIUM_PATH overrides the
 * executable, e.g. to use a developer's own Chrome.
 */
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    // Without these Chromium keeps trying to reach the (closed) internet.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
};
