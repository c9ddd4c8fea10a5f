import { afterEach, describe, expect, it } from "vitest";
import { ConversionTimeoutError, createFormatPool, type FormatPool } from "../src/format-pool.ts";
import { type Running, startServer } from "./helpers.ts";

// Exports and imports run on a worker thread: the server's event loop stays
// free while a large document converts, and a conversion that takes too long
// fails alone (503) without taking the server down.

const bigMarkdown = Array.from(
  { length: 400 },
  (_, i) => `## Section ${i}\n\nSome **bold** text and a [link](https://example.com/${i}).\n`,
).join("\n");

const pools: FormatPool[] = [];
let running: Running | undefined;
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
  await running?.stop();
  running = undefined;
});

describe("the format pool", () => {
  it("converts on another thread: this event loop keeps turning meanwhile", async () => {
    const pool = createFormatPool({ timeoutMs: 60_000 });
    pools.push(pool);
    let turns = 0;
    let done = false;
    const converting = pool.importContent({ format: "markdown", text: bigMarkdown }).finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    const imported = await converting;
    expect(imported.heading).toBe("Section 0");
    // A conversion on this thread would finish before the first turn.
    expect(turns).toBeGreaterThan(10);
  });

  it("fails a conversion that takes too long, and the next one gets a fresh worker", async () => {
    const pool = createFormatPool({ timeoutMs: 3000 });
    pools.push(pool);
    // About 30 times the document above: many seconds of converting.
    const huge = bigMarkdown.repeat(30);
    await expect(pool.importContent({ format: "markdown", text: huge })).rejects.toBeInstanceOf(
      ConversionTimeoutError,
    );
    await expect(pool.importContent({ format: "text", text: "fine" })).resolves.toMatchObject({
      heading: null,
    });
  }, 30_000);

  it("answers a conversion that takes too long with 503 and creates nothing", async () => {
    running = await startServer({ conversionTimeoutMs: 1 });
    const res = await fetch(`${running.url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: { format: "markdown", text: bigMarkdown } }),
    });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe("unavailable");
    const list = await (await fetch(`${running.url}/api/documents`)).json();
    expect(list.documents).toEqual([]);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });
});
