/**
 * Gives memory back to the operating system after the server sheds many
 * connections at once. V8 keeps the heap it has grown to (a larger young
 * generation, free old-space pages) until allocation picks up again, so a
 * server that sheds many connections and then goes quiet would hold on to
 * their memory indefinitely. Once the connection count has fallen `minDrop`
 * below its peak and no further connection has closed for `quietMs`, the
 * server collects its garbage and returns the free pages (see reclaimMemory).
 *
 * Needs a collection function (see reclaimMemory); without one it does
 * nothing.
 */
import type { MemoryAddon } from "./release-memory.ts";

export interface MemoryReclaimOptions {
  gc: (() => void) | undefined;
  /** Connections fewer than the peak before a collection is worth it. */
  minDrop?: number;
  /** How long no connection may close before collecting. */
  quietMs?: number;
}

export class MemoryReclaimer {
  private peak = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly minDrop: number;
  private readonly quietMs: number;

  constructor(private readonly options: MemoryReclaimOptions) {
    this.minDrop = options.minDrop ?? 1000;
    this.quietMs = options.quietMs ?? 2000;
  }

  /** Call whenever the number of open connections changes. */
  connectionsChanged(count: number): void {
    if (!this.options.gc) return;
    if (count > this.peak) this.peak = count;
    if (this.peak - count < this.minDrop) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.collect(count), this.quietMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private collect(count: number): void {
    this.timer = null;
    this.peak = count;
    this.options.gc?.();
  }
}

/**
 * What the reclaimer calls: with the release-memory addon, V8's low-memory
 * collection then glibc's malloc_trim; without it, two full collections from
 * node --expose-gc's `gc` (as `npm run serve` runs it); undefined with
 * neither. The low-memory collection releases at once the pages plain
 * collections leave (an emptied young generation, pooled heap pages) until
 * V8's memory reducer gets to them; malloc_trim returns the native memory
 * the closed connections used, free but still resident. Two gc() calls
 * because the first frees the closed connections and the second compacts
 * the pages they leave half empty. `gc()` takes no arguments on purpose:
 * Node 20's V8 runs only a young-generation scavenge for
 * `gc({ type: "major" })` and every other options object. Measurements:
 * docs/benchmarks.md, "Design measurements".
 */
export function reclaimMemory(
  gc: (() => unknown) | undefined,
  addon?: MemoryAddon,
): (() => void) | undefined {
  if (addon) {
    return () => {
      addon.lowMemoryNotification();
      addon.mallocTrim();
    };
  }
  if (!gc) return undefined;
  return () => {
    gc();
    gc();
  };
}
