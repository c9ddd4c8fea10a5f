/**
 * Entry point: `node --import tsx bench/run.ts [--smoke]`.
 * Runs every scenario against Cowrite and the reference server, prints the
 * comparison table and writes the results. Exits non-zero if any scenario
 * fails (divergence, crash, timeout).
 */
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import {
  buildRows,
  type Measurement,
  markdownTable,
  type RunInfo,
  writeDocs,
  writeJson,
} from "./report.ts";
import { buildBigUpdate, runBigDoc } from "./scenarios/bigdoc.ts";
import { runFanout } from "./scenarios/fanout.ts";
import { runIdle } from "./scenarios/idle.ts";
import { cleanupAll, SERVER_KINDS, type ServerKind } from "./servers.ts";

const smoke = process.argv.includes("--smoke");
const ROOT = path.resolve(import.meta.dirname, "..");

const parameters = smoke
  ? {
      fanout: { documents: 2, clientsPerDocument: 3, editsPerSecond: 5, durationSeconds: 3 },
      bigdoc: { characters: 200_000, concurrentClients: 10 },
      idle: { connections: 100 },
    }
  : {
      fanout: { documents: 20, clientsPerDocument: 10, editsPerSecond: 2, durationSeconds: 15 },
      bigdoc: { characters: 1_000_000, concurrentClients: 10 },
      idle: { connections: 2000 },
    };

// A hard ceiling on the whole run, so a hang can never outlive the harness.
const OVERALL_TIMEOUT_MS = smoke ? 120_000 : 15 * 60_000;

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`[bench] overall timeout after ${OVERALL_TIMEOUT_MS} ms\n`);
    cleanupAll();
    process.exit(2);
  }, OVERALL_TIMEOUT_MS);
  watchdog.unref();

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();

  const results: Record<ServerKind, Measurement[]> = { cowrite: [], reference: [] };
  const failures: string[] = [];
  const bigUpdate = buildBigUpdate(parameters.bigdoc.characters);

  const scenarios: Array<[string, (kind: ServerKind) => Promise<Measurement[]>]> = [
    ["fanout", (kind) => runFanout(kind, parameters.fanout)],
    ["bigdoc", (kind) => runBigDoc(kind, parameters.bigdoc, bigUpdate)],
    ["idle", (kind) => runIdle(kind, parameters.idle)],
  ];
  for (const [name, scenario] of scenarios) {
    for (const kind of SERVER_KINDS) {
      process.stderr.write(`[bench] ${name} on ${kind}...\n`);
      try {
        results[kind].push(...(await scenario(kind)));
      } catch (error) {
        const message = `${name} on ${kind}: ${(error as Error).message}`;
        process.stderr.write(`[bench] FAILED ${message}\n`);
        failures.push(message);
      }
    }
  }

  loopDelay.disable();
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;
  const info: RunInfo = {
    mode: smoke ? "smoke" : "full",
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    parameters,
    loadGenerator: {
      cpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 10,
      eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e4) / 100,
      wallSeconds: Math.round(wallMs / 100) / 10,
    },
    failures,
  };
  const rows = buildRows(results);
  process.stdout.write(
    `\n${markdownTable(rows)}\n\nload generator: ${JSON.stringify(info.loadGenerator)}\n`,
  );
  if (smoke) {
    writeJson(path.join(ROOT, "bench/results/smoke.json"), info, rows);
  } else {
    writeJson(path.join(ROOT, "bench/results/latest.json"), info, rows);
    writeDocs(path.join(ROOT, "docs/benchmarks.md"), info, rows);
  }
  if (failures.length > 0) {
    process.stderr.write(`[bench] ${failures.length} failure(s):\n${failures.join("\n")}\n`);
    return 1;
  }
  return 0;
}

main()
  .then((code) => {
    cleanupAll();
    process.exit(code);
  })
  .catch((error: unknown) => {
    process.stderr.write(`[bench] ${(error as Error).stack ?? String(error)}\n`);
    cleanupAll();
    process.exit(1);
  });
