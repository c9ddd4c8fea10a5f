// Takes the README screenshot: two users editing one document.
// Usage: start Cowrite (npm start), then
//   node --import tsx scripts/screenshot.ts [http://127.0.0.1:1234] [docs/screenshot.png]
import { chromium } from "@playwright/test";
import { chromiumLaunchOptions } from "../e2e/chromium.ts";

const base = process.argv[2] ?? "http://127.0.0.1:1234";
const out = process.argv[3] ?? "docs/screenshot.png";

const browser = await chromium.launch(chromiumLaunchOptions);
try {
  const res = await fetch(`${base}/api/documents`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "Launch plan" }),
  });
  const { id } = (await res.json()) as { id: string };
  const viewport = { width: 1200, height: 760 };
  const alice = await (await browser.newContext({ viewport })).newPage();
  const bob = await (await browser.newContext({ viewport })).newPage();
  await alice.goto(`${base}/d/${id}?name=Alice`);
  await bob.goto(`${base}/d/${id}?name=Bob`);
  for (const page of [alice, bob]) {
    await page.locator('[data-testid="status"][data-state="connected"]').waitFor();
  }
  const editor = alice.getByTestId("editor");
  await editor.click();
  await alice.keyboard.type("# Launch plan\n");
  await alice.keyboard.type("We ship Cowrite when **three** things are true:\n");
  await alice.keyboard.type("- edits merge without conflicts\n");
  await alice.keyboard.type("everyone sees who is here\n");
  await alice.keyboard.type("nothing is ever lost");
  await bob.getByTestId("editor").getByText("nothing is ever lost").waitFor();
  await bob.getByTestId("editor").click();
  await bob.keyboard.press("Control+End");
  await bob.keyboard.press("Enter");
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("> Bob: and it survives a kill -9.");
  await alice.getByTestId("editor").getByText("kill -9").waitFor();
  await alice.getByTestId("editor").getByText("edits merge").click();
  await bob.locator('[data-testid="saved"][data-state="saved"]').waitFor();
  await alice.locator('[data-testid="presence-user"]').nth(1).waitFor();
  await bob.getByTestId("editor").getByText("kill -9").click();
  await alice.getByText("Bob", { exact: true }).first().waitFor();
  await alice.screenshot({ path: out });
  console.error(`wrote ${out}`);
} finally {
  await browser.close();
}
