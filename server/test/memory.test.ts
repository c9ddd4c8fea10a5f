import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryReclaimer } from "../src/memory.ts";

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
