/**
 * Entry point: `node --import tsx bench/run.ts [--smoke] [--only=fanout,idle]`.
 * `--only` runs some scenarios (names without spaces: fanout, ladder,
 * write-path, presence, bigdoc, idle, accept, cluster) and writes only bench/results/partial.json, for
 * working on one of them.
 * Starts the load-generator workers, runs every scenario against Cowrite and
 * the reference server, prints the comparison and the targets, and writes
 * the results (full runs also regenerate docs/benchmarks.md). Exits non-zero
 * if any scenario fails: a crash, a timeout, a lost update, a divergence.
 */
import os from "node:os";
import path from "node:path";
import { loadBigUpdate } from "./big-update.ts";
import { CHILD_FD_LIMIT, cleanupAll } from "./children.ts";
import { writeDocs } from "./docs-page.ts";
import { LoadGenerator } from "./load-generator.ts";
import { type BenchParams, FULL, SMOKE } from "./params.ts";
import { buildRows, markdownTable, type RunInfo, writeJson } from "./report.ts";
import type {
  Integrity,
  LoadPhase,
  Measurement,
  ScenarioContext,
  ScenarioResult,
} from "./scenario.ts";
import { runAcceptPaired } from "./scenarios/accept.ts";
import { runBigDoc } from "./scenarios/bigdoc.ts";
import { runClusterPaired } from "./scenarios/cluster.ts";
import { runFanoutPaired } from "./scenarios/fanout.ts";
import { connectionsFor, levelLabel, runIdlePaired } from "./scenarios/idle.ts";
import { runLadder } from "./scenarios/ladder.ts";
import { runPresenceStorm } from "./scenarios/presence.ts";
import { runWritePath } from "./scenarios/write-path.ts";
import { SERVER_KINDS, type ServerKind } from "./servers.ts";
import { evaluateTargets, targetsTable } from "./targets.ts";

const smoke = process.argv.includes("--smoke");
const only = process.argv
  .find((arg) => arg.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const ROOT = path.resolve(import.meta.dirname, "..");
const params: BenchParams = smoke ? SMOKE : FULL;

/**
 * A scenario runs once per server, or (paired) once for all servers, when
 * it alternates between them itself.
 */
type Scenario =
  | [name: string, run: (context: ScenarioContext) => Promise<ScenarioResult>]
  | [
      name: string,
      paired: {
        run: (
          loadGenerator: LoadGenerator,
          kinds: readonly ServerKind[],
        ) => Promise<Partial<Record<ServerKind, ScenarioResult>>>;
      },
    ];

function perKind<T>(make: () => T): Record<ServerKind, T> {
  return { cowrite: make(), reference: make() };
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

// Ctrl-C or a kill must not leave servers running: Node skips "exit"
// handlers on a fatal signal, so clean up here.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping children`);
    cleanupAll();
    process.exit(130);
  });
}

async function main(): Promise<number> {
  // A hard ceiling on the whole run, so a hang can never outlive the harness.
  const watchdog = setTimeout(() => {
    log(`watchdog: run exceeded ${params.watchdogSeconds} s; killing children`);
    cleanupAll();
    process.exit(2);
  }, params.watchdogSeconds * 1000);
  watchdog.unref();
  const wallStart = performance.now();

  const bigUpdate = loadBigUpdate(params.bigdoc);
  const loadGenerator = await LoadGenerator.start(params.workers);
  log(`load generator: ${loadGenerator.size} workers (pids ${loadGenerator.pids.join(", ")})`);

  const measurements = perKind<Measurement[]>(() => []);
  const phases = perKind<LoadPhase[]>(() => []);
  const integrity = perKind<Integrity>(() => ({ lost: 0, divergent: 0 }));
  const problems = perKind(() => 0);
  const details: RunInfo["details"] = {};
  const notes: string[] = [];
  const failures: string[] = [];

  const scenarios: Scenario[] = [
    ["fanout", { run: (lg, kinds) => runFanoutPaired(lg, params.fanout, kinds) }],
    ["ladder", (c) => runLadder(c, params.ladder)],
    ["write path", (c) => runWritePath(c, params.writePath)],
    ["presence", (c) => runPresenceStorm(c, params.presence)],
    ["bigdoc", (c) => runBigDoc(c, params.bigdoc, bigUpdate)],
    ["idle", { run: (lg, kinds) => runIdlePaired(lg, params.idle, kinds) }],
    ["accept", { run: (_lg, kinds) => runAcceptPaired(params.accept, kinds) }],
    ["cluster", { run: (lg, kinds) => runClusterPaired(lg, params.cluster, kinds) }],
  ];
  const record = (name: string, kind: ServerKind, result: ScenarioResult) => {
    measurements[kind].push(...result.measurements);
    phases[kind].push(...result.load);
    integrity[kind].lost += result.integrity.lost;
    integrity[kind].divergent += result.integrity.divergent;
    problems[kind] += result.problems.length;
    for (const note of result.notes) if (!notes.includes(note)) notes.push(note);
    if (result.details !== undefined) details[name] = { ...details[name], [kind]: result.details };
    const broken = [
      ...(result.integrity.lost > 0 ? [`${result.integrity.lost} lost update(s)`] : []),
      ...(result.integrity.divergent > 0
        ? [`${result.integrity.divergent} divergent document(s)`]
        : []),
      ...result.problems,
    ];
    for (const problem of broken) failures.push(`${name} on ${kind}: ${problem}`);
  };
  // For working on one server: BENCH_KINDS=cowrite (partial runs only).
  const kinds = SERVER_KINDS.filter(
    (kind) => !(only && process.env.BENCH_KINDS && !process.env.BENCH_KINDS.includes(kind)),
  );
  try {
    for (const [name, run] of scenarios) {
      if (only && !only.includes(name.replace(" ", "-"))) continue;
      if (typeof run !== "function") {
        const started = performance.now();
        log(`${name} on ${kinds.join(" and ")}, alternating...`);
        try {
          const results = await run.run(loadGenerator, kinds);
          for (const kind of kinds) {
            const result = results[kind];
            if (result) record(name, kind, result);
            else failures.push(`${name} on ${kind}: no result`);
          }
        } catch (error) {
          const message = `${name}: ${(error as Error).message}`;
          log(`FAILED ${message}`);
          failures.push(message);
        }
        log(`${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
        continue;
      }
      for (const kind of kinds) {
        const started = performance.now();
        log(`${name} on ${kind}...`);
        try {
          record(name, kind, await run({ kind, loadGenerator }));
        } catch (error) {
          const message = `${name} on ${kind}: ${(error as Error).message}`;
          log(`FAILED ${message}`);
          failures.push(message);
        }
        log(`${name} on ${kind} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    }
  } finally {
    loadGenerator.stop();
  }

  const info: RunInfo = {
    mode: smoke ? "smoke" : "full",
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    wallSeconds: (performance.now() - wallStart) / 1000,
    parameters: params,
    idleConnections: Object.fromEntries(
      params.idle.levels.map((level) => [levelLabel(level), connectionsFor(level)]),
    ),
    fdLimit: CHILD_FD_LIMIT,
    loadGenerator: { workers: params.workers, phases },
    integrity,
    notes,
    failures,
    details,
  };
  const rows = buildRows(measurements);
  const ladder = details.ladder as
    | Partial<Record<ServerKind, { loadGeneratorSaturated: boolean }>>
    | undefined;
  const targets = evaluateTargets({
    rows,
    integrity,
    problems,
    ladderSaturated: {
      cowrite: ladder?.cowrite?.loadGeneratorSaturated ?? false,
      reference: ladder?.reference?.loadGeneratorSaturated ?? false,
    },
    fanoutShape: `${params.fanout.documents}×${params.fanout.clientsPerDocument}×${params.fanout.editsPerSecond}`,
    concurrentClients: params.bigdoc.concurrentClients,
  });
  process.stdout.write(
    `\n${markdownTable(rows)}\n\n${targetsTable(targets)}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n`,
  );
  if (only) {
    writeJson(path.join(ROOT, "bench/results/partial.json"), info, rows, targets);
  } else if (smoke) {
    writeJson(path.join(ROOT, "bench/results/smoke.json"), info, rows, targets);
  } else {
    writeJson(path.join(ROOT, "bench/results/latest.json"), info, rows, targets);
    writeDocs(path.join(ROOT, "docs/benchmarks.md"), info, rows, targets);
  }
  log(`done in ${info.wallSeconds.toFixed(0)} s`);
  if (failures.length > 0) {
    log(`${failures.length} failure(s):\n${failures.join("\n")}`);
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
    log((error as Error).stack ?? String(error));
    cleanupAll();
    process.exit(1);
  });
