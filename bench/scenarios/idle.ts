/**
 * Idle connections, at several levels, each on a fresh server: N clients
 * connect (bounded concurrency, spread over the workers and over N/20
 * documents), sync once and stay open. Reports connects per second, the
 * handshake + initial sync time, the server's RSS per connection, and its
 * RSS after every client has closed compared with its RSS at start.
 */
import { sleep } from "../async.ts";
import { CHILD_FD_LIMIT, makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { IdleParams } from "../params.ts";
import { machineBusyPercent, machineStealPercent, readMachineCpu } from "../proc.ts";
import type { LoadPhase, Measurement, ScenarioResult } from "../scenario.ts";
import { type ServerKind, ServerProcess } from "../servers.ts";
import { summarize, worstLoad } from "../stats.ts";
import { sum } from "./fanout.ts";

/** File descriptors the server needs besides its sockets (stdio, storage, listener, epoll). */
const FD_RESERVE = 200;
const OPEN_TIMEOUT_MS = 180_000;

/** "1k", "20k": stable metric names whatever the exact count. */
export function levelLabel(level: number): string {
  return level >= 1000 && level % 1000 === 0 ? `${level / 1000}k` : String(level);
}

/**
 * Connections a level can really open: one server process holds every one
 * of them, so the open-file limit caps it. Reported, not hidden.
 */
export function connectionsFor(level: number): number {
  return Math.min(level, CHILD_FD_LIMIT - FD_RESERVE);
}

async function runLevel(
  kind: ServerKind,
  loadGenerator: LoadGenerator,
  params: IdleParams,
  level: number,
): Promise<{ measurements: Measurement[]; load: LoadPhase; dropped: number; failed: number }> {
  const label = `idle ${levelLabel(level)}`;
  const connections = connectionsFor(level);
  const dataDir = makeTempDir(`idle-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  const group = `idle-${level}`;
  try {
    const documents = Math.max(1, Math.ceil(connections / params.clientsPerDocument));
    // Connection i goes to document i % documents, on that document's worker.
    const urlsOf = (worker: number) => {
      const urls: string[] = [];
      for (let i = 0; i < connections; i++) {
        const doc = i % documents;
        if (loadGenerator.workerOf(doc) === worker) urls.push(server.url(`idle-${doc}`));
      }
      return urls;
    };
    const concurrency = Math.max(1, Math.floor(params.connectConcurrency / loadGenerator.size));
    const start = server.stats();
    const machineBefore = readMachineCpu();
    const started = performance.now();
    const results = await loadGenerator.all(
      "idle-open",
      (w) => ({ group, urls: urlsOf(w), concurrency, timeoutMs: OPEN_TIMEOUT_MS }),
      OPEN_TIMEOUT_MS + 30_000,
    );
    const connectSeconds = (performance.now() - started) / 1000;
    const machineAfter = readMachineCpu();
    const machineBusy = machineBusyPercent(machineBefore, machineAfter);
    const machineSteal = machineStealPercent(machineBefore, machineAfter);
    const failed = sum(results.map((r) => r.failed));
    const opened = connections - failed;
    if (failed > 0) {
      const firstError = results.find((r) => r.firstError)?.firstError;
      process.stderr.write(`[bench] ${label} on ${kind}: ${failed} failed (${firstError})\n`);
    }
    // Allocations made while connecting (buffers, JIT) settle within a
    // moment; RSS read right after the last handshake would overstate them.
    await sleep(1000);
    const open = server.stats();
    const stillOpen = await loadGenerator.closeGroup(group, OPEN_TIMEOUT_MS);
    const after = await server.settledRss({
      goodEnoughBytes: start.rssBytes * 1.05,
      stableMs: params.settleStableSeconds * 1000,
      maxMs: params.settleMaxSeconds * 1000,
    });
    server.assertAlive(label);
    const connect = summarize(results.map((r) => r.connectMs));
    return {
      measurements: [
        { metric: `${label}: connections`, unit: "", value: opened },
        { metric: `${label}: connects/s`, unit: "1/s", value: opened / connectSeconds },
        { metric: `${label}: handshake + sync p50`, unit: "ms", value: connect.p50 },
        { metric: `${label}: handshake + sync p99`, unit: "ms", value: connect.p99 },
        {
          metric: `${label}: RSS per connection`,
          unit: "KB",
          value: opened > 0 ? (open.rssBytes - start.rssBytes) / 1024 / opened : null,
        },
        { metric: `${label}: RSS at start`, unit: "MB", value: start.rssBytes / 2 ** 20 },
        { metric: `${label}: RSS after all closed`, unit: "MB", value: after / 2 ** 20 },
        {
          metric: `${label}: RSS after close / at start`,
          unit: "%",
          value: (after / start.rssBytes) * 100,
        },
      ],
      load: {
        phase: `${label} connecting`,
        sample: worstLoad(results.map((r) => r.load)),
        machineBusyPercent: machineBusy,
        machineStealPercent: machineSteal,
      },
      dropped: opened - stillOpen,
      failed,
    };
  } finally {
    await loadGenerator.closeGroup(group);
    await server.stop();
    removeTempDir(dataDir);
  }
}

/**
 * Every level on each server, alternating which server goes first from one
 * level to the next (A B, B A, ...), so that drift in the shared machine's
 * background load over several minutes is spread over both servers.
 */
export async function runIdlePaired(
  loadGenerator: LoadGenerator,
  params: IdleParams,
  kinds: readonly ServerKind[],
): Promise<Partial<Record<ServerKind, ScenarioResult>>> {
  const results: Partial<Record<ServerKind, ScenarioResult>> = {};
  for (const kind of kinds) {
    results[kind] = {
      measurements: [],
      load: [],
      integrity: { lost: 0, divergent: 0 },
      notes: [],
      problems: [],
    };
  }
  for (const [index, level] of params.levels.entries()) {
    const order = index % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const into = results[kind] as ScenarioResult;
      process.stderr.write(`[bench]   idle ${kind}: ${level}\n`);
      const result = await runLevel(kind, loadGenerator, params, level);
      into.measurements.push(...result.measurements);
      into.load.push(result.load);
      if (connectionsFor(level) < level) {
        into.notes.push(
          `idle ${levelLabel(level)}: capped at ${connectionsFor(level)} connections by the open-file limit (${CHILD_FD_LIMIT}) of one process.`,
        );
      }
      if (result.failed > 0) {
        into.problems.push(`idle ${levelLabel(level)}: ${result.failed} connection(s) failed`);
      }
      if (result.dropped > 0) {
        into.problems.push(
          `idle ${levelLabel(level)}: ${result.dropped} connection(s) dropped while idle`,
        );
      }
    }
  }
  return results;
}
