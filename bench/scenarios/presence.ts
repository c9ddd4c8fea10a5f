/**
 * Presence storm: D documents x C clients, each moving its caret R times a
 * second (a new awareness state each time). Measures the server's CPU per
 * presence change, how many presence messages the clients receive, and the
 * time from publishing a state until another client received it. The
 * reference relays every change to every client at once; Cowrite batches a
 * document's changes per 25 ms into one message per client, which the
 * latency shows.
 */
import { makeTempDir, removeTempDir } from "../children.ts";
import type { PresenceParams } from "../params.ts";
import { machineBusyPercent, machineStealPercent, readMachineCpu } from "../proc.ts";
import type { ScenarioContext, ScenarioResult } from "../scenario.ts";
import { ServerProcess } from "../servers.ts";
import { summarize, worstLoad } from "../stats.ts";
import { sum } from "./fanout.ts";

const CONNECT_TIMEOUT_MS = 60_000;

export async function runPresenceStorm(
  { kind, loadGenerator }: ScenarioContext,
  params: PresenceParams,
): Promise<ScenarioResult> {
  const dataDir = makeTempDir(`presence-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  const group = "presence";
  try {
    const docsOf = (worker: number) => {
      const docs = [];
      for (let d = 0; d < params.documents; d++) {
        if (loadGenerator.workerOf(d) === worker) {
          docs.push({ url: server.url(`presence-${d}`), clients: params.clientsPerDocument });
        }
      }
      return docs.length > 0 ? docs : null;
    };
    await loadGenerator.all(
      "presence-connect",
      (w) => {
        const docs = docsOf(w);
        return docs && { group, docs, connectConcurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS };
      },
      CONNECT_TIMEOUT_MS + 5000,
    );
    const before = server.stats();
    const machineBefore = readMachineCpu();
    const results = await loadGenerator.all(
      "presence-run",
      (w) =>
        docsOf(w) && {
          group,
          updatesPerSecond: params.updatesPerSecond,
          durationMs: params.durationSeconds * 1000,
          quietMs: 250,
        },
      params.durationSeconds * 1000 + 60_000,
    );
    const after = server.stats();
    const machineAfter = readMachineCpu();
    server.assertAlive("presence");
    const windowSeconds = Math.max(...results.map((r) => r.windowMs)) / 1000;
    const sent = sum(results.map((r) => r.sent));
    const frames = sum(results.map((r) => r.frames));
    const deliveries = sum(results.map((r) => r.deliveries));
    const disconnected = sum(results.map((r) => r.disconnectedClients));
    const cpuMicros = after.cpuMicros - before.cpuMicros;
    const latency = summarize(results.map((r) => r.latencies));
    return {
      measurements: [
        { metric: "presence changes/s", unit: "1/s", value: sent / windowSeconds },
        {
          metric: "presence messages received/s (all clients)",
          unit: "1/s",
          value: frames / windowSeconds,
        },
        {
          metric: "presence states delivered/s (all clients)",
          unit: "1/s",
          value: deliveries / windowSeconds,
        },
        {
          metric: "presence server CPU per change",
          unit: "µs",
          value: sent > 0 ? cpuMicros / sent : null,
        },
        {
          metric: "presence server CPU share",
          unit: "% of a core",
          value: cpuMicros / 1e4 / windowSeconds,
        },
        { metric: "presence latency p50", unit: "ms", value: latency.p50 },
        { metric: "presence latency p99", unit: "ms", value: latency.p99 },
      ],
      load: [
        {
          phase: "presence",
          sample: worstLoad(results.map((r) => r.load)),
          machineBusyPercent: machineBusyPercent(machineBefore, machineAfter),
          machineStealPercent: machineStealPercent(machineBefore, machineAfter),
        },
      ],
      integrity: { lost: 0, divergent: 0 },
      notes: [],
      problems: disconnected > 0 ? [`presence: ${disconnected} client(s) disconnected`] : [],
    };
  } finally {
    await loadGenerator.closeGroup(group);
    await server.stop();
    removeTempDir(dataDir);
  }
}
