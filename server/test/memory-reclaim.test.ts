import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryReclaimer, reclaimMemory } from "../src/memory-reclaim.ts";
import { runNodeScript } from "./helpers.ts";

const MEMORY_MODULE = fileURLToPath(new URL("../src/memory-reclaim.ts", import.meta.url));

afterEach(() => {
  vi.useRealTimers();
});

describe("MemoryReclaimer", () => {
  it("collects once, after the server has shed many connections and gone quiet", () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const reclaimer = new MemoryReclaimer({ gc, minDrop: 100, quietMs: 1000 });
    for (let open = 1; open <= 500; open++) reclaimer.connectionsChanged(open);
    for (let open = 499; open >= 0; open--) {
      reclaimer.connectionsChanged(open);
      vi.advanceTimersByTime(10); // closes keep coming: not quiet yet
    }
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(gc).toHaveBeenCalledTimes(1);
    // The peak is reset: a small later drop does not collect again.
    for (let open = 1; open <= 50; open++) reclaimer.connectionsChanged(open);
    reclaimer.connectionsChanged(0);
    vi.advanceTimersByTime(5000);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  it("does not collect for a drop smaller than the threshold", () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const reclaimer = new MemoryReclaimer({ gc, minDrop: 100, quietMs: 1000 });
    for (let open = 1; open <= 99; open++) reclaimer.connectionsChanged(open);
    reclaimer.connectionsChanged(0);
    vi.advanceTimersByTime(5000);
    expect(gc).not.toHaveBeenCalled();
  });

  it("does nothing without a gc function", () => {
    vi.useFakeTimers();
    const reclaimer = new MemoryReclaimer({ gc: undefined, minDrop: 1, quietMs: 1 });
    reclaimer.connectionsChanged(5);
    reclaimer.connectionsChanged(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("reclaimMemory", () => {
  it("frees old-space garbage, not only the young generation", () => {
    // In a child of its own, with --expose-gc as `npm run serve` runs it:
    // grow the old space by ~40 MB, drop it, collect, report what is left.
    const script = `
      import v8 from "node:v8";
      import { reclaimMemory } from ${JSON.stringify(MEMORY_MODULE)};
      const used = () => v8.getHeapStatistics().used_heap_size;
      let kept = [];
      for (let i = 0; i < 400000; i++) kept.push({ i, text: "x".repeat(16) + i });
      const grown = used();
      kept = null;
      reclaimMemory(globalThis.gc)();
      console.log(JSON.stringify({ grown, after: used() }));
    `;
    const { grown, after } = runNodeScript<{ grown: number; after: number }>(script, [
      "--expose-gc",
    ]);
    expect(grown).toBeGreaterThan(30 * 2 ** 20);
    expect(after).toBeLessThan(grown - 25 * 2 ** 20);
  });

  it("uses the addon when there is one: the low-memory collection, then the trim", () => {
    const calls: string[] = [];
    const gc = vi.fn();
    const reclaim = reclaimMemory(gc, {
      lowMemoryNotification: () => calls.push("low-memory"),
      mallocTrim: () => calls.push("trim") > 0,
    });
    reclaim?.();
    expect(calls).toEqual(["low-memory", "trim"]);
    expect(gc).not.toHaveBeenCalled();
  });

  it("is undefined without the addon and without node --expose-gc", () => {
    expect(reclaimMemory(undefined)).toBeUndefined();
  });
});
