/**
 * The timed part of fan-out and presence runs: every action runs `perSecond`
 * times a second, each at a random phase so clients do not all act in the
 * same tick, for `durationMs`; the worker's own load is sampled meanwhile.
 */
import { sleep } from "../async.ts";
import type { LoadSample } from "../stats.ts";
import { LoadMonitor } from "../stats.ts";

export async function runPeriodically(
  actions: ReadonlyArray<() => void>,
  perSecond: number,
  durationMs: number,
): Promise<{ windowMs: number; load: LoadSample }> {
  const monitor = new LoadMonitor();
  const timers: NodeJS.Timeout[] = [];
  const intervalMs = 1000 / perSecond;
  for (const action of actions) {
    timers.push(
      setTimeout(() => {
        action();
        timers.push(setInterval(action, intervalMs));
      }, Math.random() * intervalMs),
    );
  }
  monitor.start();
  const startedAt = performance.now();
  await sleep(durationMs);
  // Clears the pending first calls as well as the intervals.
  for (const timer of timers) clearInterval(timer);
  const windowMs = performance.now() - startedAt;
  return { windowMs, load: monitor.stop() };
}
