import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { buildMallocTrim } from "../../scripts/build-native.mjs";
import { loadMallocTrim } from "../src/malloc-trim.ts";
import { tempDir } from "./helpers.ts";

const LOADER = fileURLToPath(new URL("../src/malloc-trim.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The addon trims glibc's heap; elsewhere (musl, macOS) it is a no-op. */
const onGlibc = Boolean(
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
    ?.glibcVersionRuntime,
);

describe("malloc-trim addon", () => {
  // build:server compiles it with the C toolchain better-sqlite3 builds with.
  it.runIf(onGlibc)("builds, and hands freed native memory back to the operating system", () => {
    const dir = tempDir();
    dirs.push(dir);
    const addon = path.join(dir, "malloc-trim.node");
    expect(buildMallocTrim(addon)).toBeNull();
    // In a child of its own: fill 40 MB of malloc'd buffers, free all but
    // a few scattered survivors (as closed sockets leave the heap), collect,
    // then trim. glibc alone keeps those pages; the trim returns them.
    const script = `
        import fs from "node:fs";
        import { loadMallocTrim } from ${JSON.stringify(LOADER)};
        const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
        const trim = loadMallocTrim(${JSON.stringify(addon)});
        let blocks = [];
        for (let i = 0; i < 40000; i++) blocks.push(Buffer.allocUnsafeSlow(1024).fill(1));
        const survivors = blocks.filter((_, i) => i % 200 === 199);
        blocks = null;
        globalThis.gc();
        globalThis.gc();
        const before = rss();
        const released = trim();
        console.log(JSON.stringify({ before, after: rss(), released, kept: survivors.length }));
      `;
    const output = execFileSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script],
      { encoding: "utf8" },
    );
    const { before, after, released } = JSON.parse(output) as {
      before: number;
      after: number;
      released: boolean;
    };
    expect(released).toBe(true);
    expect(after).toBeLessThan(before - 20 * 2 ** 20);
  });

  it("is undefined where the addon was not built", () => {
    const dir = tempDir();
    dirs.push(dir);
    expect(loadMallocTrim(path.join(dir, "missing.node"))).toBeUndefined();
  });
});
