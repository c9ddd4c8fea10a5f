import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { buildMemoryAddon } from "../../scripts/build-native.mjs";
import { loadMemoryAddon } from "../src/release-memory.ts";
import { runNodeScript, tempDir } from "./helpers.ts";

const LOADER = fileURLToPath(new URL("../src/release-memory.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The addon trims glibc's heap; elsewhere (musl, macOS) it is a no-op. */
const onGlibc = Boolean(
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
    ?.glibcVersionRuntime,
);

/** Builds the addon into a temp folder, as build:server does into server/dist. */
function buildAddon(): string {
  const dir = tempDir();
  dirs.push(dir);
  const addon = path.join(dir, "release-memory.node");
  expect(buildMemoryAddon(addon)).toBeNull();
  return addon;
}

describe("release-memory addon", () => {
  // build:server compiles it with the C++ toolchain better-sqlite3 builds with.
  it.runIf(onGlibc)("malloc_trim hands freed native memory back to the operating system", () => {
    const addon = buildAddon();
    // In a child of its own: fill 40 MB of malloc'd buffers, free all but
    // a few scattered survivors (as closed sockets leave the heap), collect,
    // then trim. glibc alone keeps those pages; the trim returns them.
    const script = `
        import fs from "node:fs";
        import { loadMemoryAddon } from ${JSON.stringify(LOADER)};
        const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
        const { mallocTrim } = loadMemoryAddon(${JSON.stringify(addon)});
        let blocks = [];
        for (let i = 0; i < 40000; i++) blocks.push(Buffer.allocUnsafeSlow(1024).fill(1));
        const survivors = blocks.filter((_, i) => i % 200 === 199);
        blocks = null;
        globalThis.gc();
        globalThis.gc();
        const before = rss();
        const released = mallocTrim();
        console.log(JSON.stringify({ before, after: rss(), released, kept: survivors.length }));
      `;
    const { before, after, released } = runNodeScript<{
      before: number;
      after: number;
      released: boolean;
    }>(script, ["--expose-gc"]);
    expect(released).toBe(true);
    expect(after).toBeLessThan(before - 20 * 2 ** 20);
  });

  it.runIf(process.platform === "linux")(
    "the low-memory collection frees garbage and unmaps the heap pages it leaves",
    () => {
      const addon = buildAddon();
      // Grow the old space by ~40 MB, drop it, and compare what two gc()
      // calls leave committed with what the low-memory collection leaves.
      const script = `
        import v8 from "node:v8";
        import { loadMemoryAddon } from ${JSON.stringify(LOADER)};
        const { lowMemoryNotification } = loadMemoryAddon(${JSON.stringify(addon)});
        const heap = () => v8.getHeapStatistics();
        let kept = [];
        for (let i = 0; i < 400000; i++) kept.push({ i, text: "x".repeat(16) + i });
        const grown = heap().used_heap_size;
        kept = null;
        globalThis.gc();
        globalThis.gc();
        const afterGc = heap().total_heap_size;
        lowMemoryNotification();
        const after = heap();
        console.log(JSON.stringify({ grown, afterGc, used: after.used_heap_size, committed: after.total_heap_size }));
      `;
      const { grown, afterGc, used, committed } = runNodeScript<{
        grown: number;
        afterGc: number;
        used: number;
        committed: number;
      }>(script, ["--expose-gc", "--max-semi-space-size=2"]);
      expect(grown).toBeGreaterThan(30 * 2 ** 20);
      expect(used).toBeLessThan(grown - 25 * 2 ** 20);
      expect(committed).toBeLessThan(afterGc - 2 ** 20);
    },
  );

  it("is undefined where the addon was not built", () => {
    const dir = tempDir();
    dirs.push(dir);
    expect(loadMemoryAddon(path.join(dir, "missing.node"))).toBeUndefined();
  });
});
