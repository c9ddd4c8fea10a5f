/**
 * Percentiles and the load generator's own health: CPU use and event-loop
 * delay per worker, so a reader can tell server latency from client queueing.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Summarises samples from several workers (merged, then ranked). */
export function summarize(parts: ReadonlyArray<ArrayLike<number>>): Summary {
  const all = Float64Array.from(parts.flatMap((part) => Array.from(part))).sort();
  return {
    count: all.length,
    p50: percentile(all, 50),
    p95: percentile(all, 95),
    p99: percentile(all, 99),
    max: all.length > 0 ? (all[all.length - 1] ?? Number.NaN) : Number.NaN,
  };
}

/** One worker's load over a measured window. */
export interface LoadSample {
  /** CPU time (user + system) over wall time, in % of one core. */
  cpuPercent: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/**
 * Thresholds beyond which a worker is too busy for its timestamps to be
 * trusted: latencies would include its own queueing.
 */
export const SATURATED_LOOP_DELAY_P99_MS = 50;
export const SATURATED_CPU_PERCENT = 90;

export function isSaturated(sample: LoadSample): boolean {
  return (
    sample.loopDelayP99Ms > SATURATED_LOOP_DELAY_P99_MS || sample.cpuPercent > SATURATED_CPU_PERCENT
  );
}

/** The worst of each figure over several workers. */
export function worstLoad(samples: readonly LoadSample[]): LoadSample {
  return {
    cpuPercent: Math.max(0, ...samples.map((s) => s.cpuPercent)),
    loopDelayP99Ms: Math.max(0, ...samples.map((s) => s.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(0, ...samples.map((s) => s.loopDelayMaxMs)),
  };
}

export function describeLoad(sample: LoadSample): string {
  return `CPU ${sample.cpuPercent.toFixed(0)}% of a core, event-loop delay p99 ${sample.loopDelayP99Ms.toFixed(1)} ms`;
}

/** Sampling interval of the event-loop delay histogram, ms. */
const LOOP_RESOLUTION_MS = 10;

/** Measures this process's CPU and event-loop delay between start() and stop(). */
export class LoadMonitor {
  private readonly histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private cpuStart = process.cpuUsage();
  private wallStart = performance.now();

  start(): void {
    this.histogram.reset();
    this.histogram.enable();
    this.cpuStart = process.cpuUsage();
    this.wallStart = performance.now();
  }

  stop(): LoadSample {
    this.histogram.disable();
    const cpu = process.cpuUsage(this.cpuStart);
    const wallMs = Math.max(1, performance.now() - this.wallStart);
    // The histogram records whole intervals between samples, so an idle loop
    // reads about the resolution itself; the delay is what exceeds it.
    const toMs = (ns: number) =>
      Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) : 0;
    return {
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      loopDelayP99Ms: toMs(this.histogram.percentile(99)),
      loopDelayMaxMs: toMs(this.histogram.max),
    };
  }
}
