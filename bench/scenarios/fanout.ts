/**
 * Fan-out: D documents x C clients, each client editing R times a second;
 * latency from a local edit until every other client of the document has
 * applied it, deliveries per second, and the server's CPU per delivered
 * update. The scenario measures both servers in alternating windows;
 * runFanoutStep (one server, one window) is also one step of the ladder.
 */

import { makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { FanoutRunResult } from "../messages.ts";
import type { FanoutParams } from "../params.ts";
import { machineBusyPercent, machineStealPercent, readMachineCpu } from "../proc.ts";
import type { ScenarioResult } from "../scenario.ts";
import { type ServerKind, ServerProcess } from "../servers.ts";
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
  /** All cores' busy share over the window, in % (steal included). */
  machineBusyPercent: number;
  /** Share of the window the hypervisor ran someone else on our cores, in %. */
  machineStealPercent: number;
  lost: number;
  divergentDocuments: number;
  disconnectedClients: number;
  load: LoadSample;
}

const CONNECT_TIMEOUT_MS = 120_000;

/** One server's fan-out clients, connected and synced. */
interface FanoutGroup {
  server: ServerProcess;
  loadGenerator: LoadGenerator;
  params: FanoutParams;
  group: string;
}

/** What one measured window produced, before aggregation. */
interface FanoutWindow {
  results: FanoutRunResult[];
  cpuMicros: number;
  rssBytes: number;
  machineBusyPercent: number;
  machineStealPercent: number;
}

async function connectGroup(
  server: ServerProcess,
  loadGenerator: LoadGenerator,
  params: FanoutParams,
  label: string,
): Promise<FanoutGroup> {
  const group = groupName(server, params, label);
  const docsOf = (worker: number) => {
    const docs = [];
    for (let d = 0; d < params.documents; d++) {
      if (loadGenerator.workerOf(d) === worker) {
        docs.push({
          url: server.url(`${group}-${d}`),
          clients: params.clientsPerDocument,
          replicas: params.replicasPerDocument ?? params.clientsPerDocument,
        });
      }
    }
    return docs;
  };
  await loadGenerator.all(
    "fanout-connect",
    (w) => ({ group, docs: docsOf(w), connectConcurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS }),
    CONNECT_TIMEOUT_MS + 5000,
  );
  return { server, loadGenerator, params, group };
}

function groupName(server: ServerProcess, params: FanoutParams, label: string): string {
  return `${label}-${server.kind}-${params.documents}`;
}

/** Every client edits for `seconds`, then in-flight edits drain (bounded). */
async function runWindow(
  { server, loadGenerator, params, group }: FanoutGroup,
  seconds: number,
): Promise<FanoutWindow> {
  const before = server.stats();
  const machineBefore = readMachineCpu();
  const results = await loadGenerator.all(
    "fanout-run",
    () => ({
      group,
      editsPerSecond: params.editsPerSecond,
      durationMs: seconds * 1000,
      drainTimeoutMs: params.drainTimeoutSeconds * 1000,
    }),
    (seconds + params.drainTimeoutSeconds) * 1000 + 60_000,
  );
  const after = server.stats();
  const machineAfter = readMachineCpu();
  return {
    results,
    cpuMicros: after.cpuMicros - before.cpuMicros,
    rssBytes: after.rssBytes,
    machineBusyPercent: machineBusyPercent(machineBefore, machineAfter),
    machineStealPercent: machineStealPercent(machineBefore, machineAfter),
  };
}

/**
 * One result from several windows on the same clients: latencies pooled,
 * counts and CPU summed. Lost, divergent and disconnected describe the state
 * after the last window, which includes everything before it.
 */
function aggregate(params: FanoutParams, windows: readonly FanoutWindow[]): FanoutStepResult {
  const all = windows.flatMap((w) => w.results);
  const last = windows.at(-1)?.results ?? [];
  const windowSeconds = sum(
    windows.map((w) => Math.max(...w.results.map((r) => r.windowMs)) / 1000),
  );
  const edits = sum(all.map((r) => r.edits));
  const deliveries = sum(all.map((r) => r.deliveries));
  const cpuMicros = sum(windows.map((w) => w.cpuMicros));
  const mean = (values: number[]) => sum(values) / Math.max(1, values.length);
  return {
    documents: params.documents,
    clients: params.documents * params.clientsPerDocument,
    latency: summarize(all.map((r) => r.latencies)),
    edits,
    deliveries,
    editsPerSecond: edits / windowSeconds,
    deliveriesPerSecond: deliveries / windowSeconds,
    serverCpuPerDelivery: deliveries > 0 ? cpuMicros / deliveries : Number.NaN,
    serverCpuPercent: cpuMicros / 1e4 / windowSeconds,
    serverRssBytes: windows.at(-1)?.rssBytes ?? Number.NaN,
    machineBusyPercent: mean(windows.map((w) => w.machineBusyPercent)),
    machineStealPercent: mean(windows.map((w) => w.machineStealPercent)),
    lost: sum(last.map((r) => r.lost)),
    divergentDocuments: sum(last.map((r) => r.divergentDocuments)),
    disconnectedClients: sum(last.map((r) => r.disconnectedClients)),
    load: worstLoad(all.map((r) => r.load)),
  };
}

/** Runs one fan-out measurement on a running server; closes its clients after. */
export async function runFanoutStep(
  server: ServerProcess,
  loadGenerator: LoadGenerator,
  params: FanoutParams,
  label: string,
): Promise<FanoutStepResult> {
  try {
    const group = await connectGroup(server, loadGenerator, params, label);
    // Edits the warm-up could not deliver stay pending and count as lost.
    if (params.warmupSeconds > 0) await runWindow(group, params.warmupSeconds);
    return aggregate(params, [await runWindow(group, params.durationSeconds)]);
  } finally {
    // Also after a failed connect: the workers keep whatever did connect.
    await loadGenerator.closeGroup(groupName(server, params, label));
  }
}

/**
 * Fan-out on both servers at once, measured in alternating windows
 * (A B, B A, A B, ...): on a shared machine the background load drifts over
 * a minute, and a server measured only before or only after the other would
 * get its own share of that drift. Both servers run throughout with their
 * clients connected; only the one being measured has clients editing.
 */
export async function runFanoutPaired(
  loadGenerator: LoadGenerator,
  params: FanoutParams,
  kinds: readonly ServerKind[],
): Promise<Partial<Record<ServerKind, ScenarioResult>>> {
  const started: Array<{ kind: ServerKind; server: ServerProcess; dataDir: string }> = [];
  const groups = new Map<ServerKind, FanoutGroup>();
  try {
    for (const kind of kinds) {
      const dataDir = makeTempDir(`fanout-${kind}`);
      started.push({ kind, dataDir, server: await ServerProcess.start(kind, dataDir) });
    }
    for (const { kind, server } of started) {
      groups.set(kind, await connectGroup(server, loadGenerator, params, "fanout"));
    }
    for (const group of groups.values()) {
      if (params.warmupSeconds > 0) await runWindow(group, params.warmupSeconds);
    }
    const windows = new Map<ServerKind, FanoutWindow[]>(kinds.map((kind) => [kind, []]));
    const windowSeconds = params.durationSeconds / params.rounds;
    for (let round = 0; round < params.rounds; round++) {
      const order = round % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) {
        const group = groups.get(kind) as FanoutGroup;
        windows.get(kind)?.push(await runWindow(group, windowSeconds));
        group.server.assertAlive("fan-out");
      }
    }
    const results: Partial<Record<ServerKind, ScenarioResult>> = {};
    for (const kind of kinds)
      results[kind] = toScenarioResult(aggregate(params, windows.get(kind) ?? []));
    return results;
  } finally {
    // By name, so a group whose connect failed halfway is closed too.
    for (const { server } of started) {
      await loadGenerator.closeGroup(groupName(server, params, "fanout"));
    }
    for (const { server, dataDir } of started) {
      await server.stop();
      removeTempDir(dataDir);
    }
  }
}

function toScenarioResult(step: FanoutStepResult): ScenarioResult {
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
    load: [
      {
        phase: "fan-out",
        sample: step.load,
        machineBusyPercent: step.machineBusyPercent,
        machineStealPercent: step.machineStealPercent,
      },
    ],
    integrity: { lost: step.lost, divergent: step.divergentDocuments },
    notes: [],
    problems,
  };
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
