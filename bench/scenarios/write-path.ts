/**
 * Write path: sustained accepted updates per second. D documents x W writers
 * send small updates as fast as a bounded pipeline allows; an update is
 * accepted when its document's observer applies the broadcast. For Cowrite a
 * broadcast happens only after fsync, so accepted means durable; the
 * reference broadcasts before writing (and never fsyncs). Afterwards, Cowrite's
 * own receipt-to-fsync p99 is read from GET /metrics.
 */
import { makeTempDir, removeTempDir } from "../children.ts";
import type { WritePathParams } from "../params.ts";
import { machineBusyPercent, machineStealPercent, readMachineCpu } from "../proc.ts";
import { readHistogramQuantile, readMetricValue } from "../prometheus.ts";
import type { ScenarioContext, ScenarioResult } from "../scenario.ts";
import { ServerProcess } from "../servers.ts";
import { summarize, worstLoad } from "../stats.ts";
import { sum } from "./fanout.ts";

const DURABLE_METRIC = "cowrite_update_durable_seconds";
const CONNECT_TIMEOUT_MS = 30_000;

export async function runWritePath(
  { kind, loadGenerator }: ScenarioContext,
  params: WritePathParams,
): Promise<ScenarioResult> {
  const dataDir = makeTempDir(`write-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  const group = "write";
  try {
    const docsOf = (worker: number) => {
      const docs = [];
      for (let d = 0; d < params.documents; d++) {
        if (loadGenerator.workerOf(d) === worker) {
          docs.push({ url: server.url(`write-${d}`), clients: params.writersPerDocument });
        }
      }
      return docs.length > 0 ? docs : null;
    };
    await loadGenerator.all(
      "write-connect",
      (w) => {
        const docs = docsOf(w);
        return docs && { group, docs, timeoutMs: CONNECT_TIMEOUT_MS };
      },
      CONNECT_TIMEOUT_MS + 5000,
    );
    const machineBefore = readMachineCpu();
    const results = await loadGenerator.all(
      "write-run",
      (w) =>
        docsOf(w) && {
          group,
          maxInFlight: params.maxInFlight,
          durationMs: params.durationSeconds * 1000,
          drainTimeoutMs: params.drainTimeoutSeconds * 1000,
        },
      (params.durationSeconds + 2 * params.drainTimeoutSeconds) * 1000 + 60_000,
    );
    const machineAfter = readMachineCpu();
    const machineBusy = machineBusyPercent(machineBefore, machineAfter);
    const machineSteal = machineStealPercent(machineBefore, machineAfter);
    server.assertAlive("the write path");
    const metrics = await server.fetchMetrics();
    const durableP99 =
      metrics === null ? null : readHistogramQuantile(metrics, DURABLE_METRIC, 0.99);
    const durableCount =
      metrics === null ? null : readMetricValue(metrics, `${DURABLE_METRIC}_count`);
    const windowSeconds = Math.max(...results.map((r) => r.windowMs)) / 1000;
    const latency = summarize(results.map((r) => r.latencies));
    const lost = sum(results.map((r) => r.lost));
    const divergent = sum(results.map((r) => r.divergentDocuments));
    const disconnected = sum(results.map((r) => r.disconnectedClients));
    const notes: string[] = [];
    if (kind === "cowrite" && metrics === null) {
      notes.push("write path: Cowrite served no /metrics, so its receipt→durable p99 is n/a.");
    } else if (kind === "cowrite" && durableP99 === null) {
      notes.push(`write path: /metrics had no ${DURABLE_METRIC} histogram.`);
    }
    const problems = disconnected > 0 ? [`write path: ${disconnected} client(s) disconnected`] : [];
    return {
      measurements: [
        {
          metric: "write path accepted updates/s",
          unit: "1/s",
          value: sum(results.map((r) => r.acceptedInWindow)) / windowSeconds,
        },
        { metric: "write path send→observed p50", unit: "ms", value: latency.p50 },
        { metric: "write path send→observed p99", unit: "ms", value: latency.p99 },
        {
          metric: "write path receipt→durable p99 (server)",
          unit: "ms",
          value: durableP99 === null ? null : durableP99 * 1000,
        },
        { metric: "write path durable updates counted (server)", unit: "", value: durableCount },
        { metric: "write path lost updates", unit: "", value: lost },
      ],
      load: [
        {
          phase: "write path",
          sample: worstLoad(results.map((r) => r.load)),
          machineBusyPercent: machineBusy,
          machineStealPercent: machineSteal,
        },
      ],
      integrity: { lost, divergent },
      notes,
      problems,
    };
  } finally {
    await loadGenerator.closeGroup(group);
    await server.stop();
    removeTempDir(dataDir);
  }
}
