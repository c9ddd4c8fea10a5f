/**
 * Gives memory back to the operating system after the server sheds many
 * connections at once. V8 keeps the heap it has grown to (a larger young
 * generation, free old-space pages) until allocation picks up again, so a
 * server that just closed ten thousand connections and then went quiet would
 * hold on to tens of megabytes indefinitely. Once the connection count has
 * fallen `minDrop` below its peak and no further connection has closed for
 * `quietMs`, one full collection runs; V8's memory reducer then returns the
 * free pages.
 *
 * Needs a `gc` function (node --expose-gc, which `npm run serve` sets);
 * without one it does nothing.
 */
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
