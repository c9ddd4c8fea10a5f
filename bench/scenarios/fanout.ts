/**
 * Fan-out: D documents x C clients, each client editing R times a second;
 * latency from a local edit until every other client of the document has
 * applied it, deliveries per second, and the server's CPU per delivered
 * update. runFanoutStep is also one step of the ladder.
 */

import { makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { FanoutParams } from "../params.ts";
import { machineBusyPercent, readMachineCpu } from "../proc.ts";
import type { ScenarioContext, ScenarioResult } from "../scenario.ts";
import { ServerProcess } from "../servers.ts";
import { type LoadSample, type Summary, summarize, worstLoad } from "../stats.ts";

export interface FanoutStepResult {
  documents: number;
  clients: number;
  latency: Summary;
  edits: number;
  deliveries: number;
  editsPerSecond: number;
  deliveriesPerSecond: number;
  /** Server CPU (user + system) per delivered update, µs. */
  serverCpuPerDelivery: number;
  /** Server CPU over the window, in % of one core. */
  serverCpuPercent: number;
  serverRssBytes: number;
  /** All cores' busy share over the window, in %. */
  machineBusyPercent: number;
  lost: number;
  divergentDocuments: number;
  disconnectedClients: number;
  load: LoadSample;
}

const CONNECT_TIMEOUT_MS = 120_000;

/** Runs one fan-out measurement on a running server; closes its clients after. */
export async function runFanoutStep(
  server: ServerProcess,
  loadGenerator: LoadGenerator,
  params: FanoutParams,
  label: string,
): Promise<FanoutStepResult> {
  const group = `${label}-${params.documents}`;
  const docsOf = (worker: number) => {
    const docs = [];
    for (let d = 0; d < params.documents; d++) {
      if (loadGenerator.workerOf(d) === worker) {
        docs.push({ url: server.url(`${group}-${d}`), clients: params.clientsPerDocument });
      }
    }
    return docs;
  };
  try {
    await loadGenerator.all(
      "fanout-connect",
      (w) => ({ group, docs: docsOf(w), connectConcurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS }),
      CONNECT_TIMEOUT_MS + 5000,
    );
    const before = server.stats();
    const machineBefore = readMachineCpu();
    const results = await loadGenerator.all(
      "fanout-run",
      () => ({
        group,
        editsPerSecond: params.editsPerSecond,
        durationMs: params.durationSeconds * 1000,
        drainTimeoutMs: params.drainTimeoutSeconds * 1000,
      }),
      (params.durationSeconds + params.drainTimeoutSeconds) * 1000 + 60_000,
    );
    const after = server.stats();
    const machineBusy = machineBusyPercent(machineBefore, readMachineCpu());
    const windowSeconds = Math.max(...results.map((r) => r.windowMs)) / 1000;
    const edits = sum(results.map((r) => r.edits));
    const deliveries = sum(results.map((r) => r.deliveries));
    const cpuMicros = after.cpuMicros - before.cpuMicros;
    return {
      documents: params.documents,
      clients: params.documents * params.clientsPerDocument,
      latency: summarize(results.map((r) => r.latencies)),
      edits,
      deliveries,
      editsPerSecond: edits / windowSeconds,
      deliveriesPerSecond: deliveries / windowSeconds,
      serverCpuPerDelivery: deliveries > 0 ? cpuMicros / deliveries : Number.NaN,
      serverCpuPercent: cpuMicros / 1e4 / windowSeconds,
      serverRssBytes: after.rssBytes,
      machineBusyPercent: machineBusy,
      lost: sum(results.map((r) => r.lost)),
      divergentDocuments: sum(results.map((r) => r.divergentDocuments)),
      disconnectedClients: sum(results.map((r) => r.disconnectedClients)),
      load: worstLoad(results.map((r) => r.load)),
    };
  } finally {
    await loadGenerator.closeGroup(group);
  }
}

export async function runFanout(
  { kind, loadGenerator }: ScenarioContext,
  params: FanoutParams,
): Promise<ScenarioResult> {
  const dataDir = makeTempDir(`fanout-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  try {
    const step = await runFanoutStep(server, loadGenerator, params, "fanout");
    server.assertAlive("fan-out");
    const problems =
      step.disconnectedClients > 0
        ? [`fan-out: ${step.disconnectedClients} client(s) disconnected`]
        : [];
    return {
      measurements: [
        { metric: "fanout latency p50", unit: "ms", value: step.latency.p50 },
        { metric: "fanout latency p95", unit: "ms", value: step.latency.p95 },
        { metric: "fanout latency p99", unit: "ms", value: step.latency.p99 },
        { metric: "fanout latency max", unit: "ms", value: step.latency.max },
        { metric: "fanout edits/s", unit: "1/s", value: step.editsPerSecond },
        { metric: "fanout deliveries/s", unit: "1/s", value: step.deliveriesPerSecond },
        { metric: "fanout server CPU per delivery", unit: "µs", value: step.serverCpuPerDelivery },
        { metric: "fanout server CPU share", unit: "% of a core", value: step.serverCpuPercent },
        { metric: "fanout server RSS at end", unit: "MB", value: step.serverRssBytes / 2 ** 20 },
        { metric: "fanout lost edits", unit: "", value: step.lost },
        { metric: "fanout divergent documents", unit: "", value: step.divergentDocuments },
      ],
      load: [{ phase: "fan-out", sample: step.load, machineBusyPercent: step.machineBusyPercent }],
      integrity: { lost: step.lost, divergent: step.divergentDocuments },
      notes: [],
      problems,
    };
  } finally {
    await server.stop();
    removeTempDir(dataDir);
  }
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
