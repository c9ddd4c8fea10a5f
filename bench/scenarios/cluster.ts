/**
 * Cluster: the fan-out load (worker/fanout.ts) on several server setups at
 * once, measured in alternating windows as fan-out is: one Cowrite node on
 * SQLite (the default), one on PostgreSQL, one on PostgreSQL relaying
 * through Redis, three nodes sharing PostgreSQL and Redis, and the
 * reference. In the three-node cluster each document's clients are spread
 * over the nodes (client n on node n mod 3), so most deliveries cross
 * nodes: typed on node A, stored in PostgreSQL, relayed through Redis,
 * sent by nodes B and C. Reports latency per delivery (cross-node apart),
 * CPU per delivery summed over all of a setup's node processes (and,
 * apart, PostgreSQL's and Redis's), and convergence: every replica and a
 * fresh client on every node must hold the same document at the end.
 */
import { type BackingServices, startBackingServices } from "../backing.ts";
import { makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { FanoutRunResult } from "../messages.ts";
import type { ClusterParams, ClusterSetupId } from "../params.ts";
import { machineBusyPercent, machineStealPercent, readMachineCpu } from "../proc.ts";
import type { Measurement, ScenarioResult } from "../scenario.ts";
import { type ServerKind, ServerProcess } from "../servers.ts";
import { type LoadSample, type Summary, summarize, worstLoad } from "../stats.ts";
import { sum } from "./fanout.ts";

interface SetupSpec {
  label: string;
  kind: ServerKind;
  nodes: number;
  postgres: boolean;
  /** Redis logical database, or null for none (each setup its own, so no two share streams). */
  redisDb: number | null;
}

export const CLUSTER_SETUPS: Record<ClusterSetupId, SetupSpec> = {
  "sqlite-1": {
    label: "Cowrite, 1 node, SQLite",
    kind: "cowrite",
    nodes: 1,
    postgres: false,
    redisDb: null,
  },
  "pg-1": {
    label: "Cowrite, 1 node, PostgreSQL",
    kind: "cowrite",
    nodes: 1,
    postgres: true,
    redisDb: null,
  },
  "pg-redis-1": {
    label: "Cowrite, 1 node, PostgreSQL + Redis",
    kind: "cowrite",
    nodes: 1,
    postgres: true,
    redisDb: 1,
  },
  "pg-redis-3": {
    label: "Cowrite, 3 nodes, PostgreSQL + Redis",
    kind: "cowrite",
    nodes: 3,
    postgres: true,
    redisDb: 0,
  },
  reference: {
    label: "reference, 1 node",
    kind: "reference",
    nodes: 1,
    postgres: false,
    redisDb: null,
  },
};

/** One setup's figures over all its windows (what the docs' cluster table shows). */
export interface ClusterSetupResult {
  id: ClusterSetupId;
  label: string;
  kind: ServerKind;
  nodes: number;
  clients: number;
  /** Per delivery, sender and receiver on different nodes (empty with one node). */
  crossNode: Summary;
  /** Per delivery, sender and receiver on the same node. */
  sameNode: Summary;
  /** Per edit, until every other client of the document applied it. */
  allReceivers: Summary;
  /** The same per-delivery latencies from the light-load window (empty when not run). */
  light: {
    crossNode: Summary;
    sameNode: Summary;
    editsPerSecond: number;
    machineBusyPercent: number;
  };
  edits: number;
  deliveries: number;
  deliveriesPerSecond: number;
  /** CPU of the setup's server processes (all nodes), µs per delivery. */
  serverCpuPerDelivery: number;
  /** PostgreSQL (postmaster and all its backends) and Redis, µs per delivery. */
  postgresCpuPerDelivery: number;
  redisCpuPerDelivery: number;
  /** Server processes, % of one core over the windows. */
  serverCpuPercent: number;
  serverRssBytes: number;
  machineBusyPercent: number;
  machineStealPercent: number;
  lost: number;
  divergentDocuments: number;
  disconnectedClients: number;
  /** Fresh clients opened per node at the end, and what disagreed. */
  freshClients: number;
  mismatches: string[];
  load: LoadSample;
}

export interface ClusterDetails {
  setups: ClusterSetupResult[];
}

interface Setup {
  id: ClusterSetupId;
  spec: SetupSpec;
  nodes: ServerProcess[];
  dataDirs: string[];
  group: string;
  windows: Window[];
  lightWindows: Window[];
}

interface Window {
  results: FanoutRunResult[];
  serverCpuMicros: number;
  postgresCpuMicros: number;
  redisCpuMicros: number;
  rssBytes: number;
  machineBusyPercent: number;
  machineStealPercent: number;
}

const CONNECT_TIMEOUT_MS = 60_000;
const VERIFY_TIMEOUT_MS = 30_000;

async function startSetup(
  id: ClusterSetupId,
  backing: BackingServices | null,
  setups: Setup[],
): Promise<void> {
  const spec = CLUSTER_SETUPS[id];
  const env: Record<string, string> = {};
  if (spec.postgres) {
    if (!backing) throw new Error("no PostgreSQL");
    env.DATABASE_URL = await backing.createDatabase();
  }
  if (spec.redisDb !== null) {
    if (!backing) throw new Error("no Redis");
    env.REDIS_URL = backing.redisUrl(spec.redisDb);
  }
  const setup: Setup = {
    id,
    spec,
    nodes: [],
    dataDirs: [],
    group: `cluster-${id}`,
    windows: [],
    lightWindows: [],
  };
  // Pushed before the nodes start, so the caller stops whichever did start.
  setups.push(setup);
  // In parallel: a node's start (connecting to PostgreSQL and Redis) takes seconds on a busy machine.
  const started = await Promise.allSettled(
    Array.from({ length: spec.nodes }, (_, n) => {
      const dataDir = makeTempDir(`cluster-${id}-${n}`);
      setup.dataDirs.push(dataDir);
      return ServerProcess.start(spec.kind, dataDir, env);
    }),
  );
  for (const outcome of started) {
    if (outcome.status === "fulfilled") setup.nodes.push(outcome.value);
  }
  const failed = started.find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
}

async function connectSetup(
  setup: Setup,
  loadGenerator: LoadGenerator,
  params: ClusterParams,
): Promise<void> {
  await loadGenerator.all(
    "fanout-connect",
    (worker) => {
      const docs = [];
      for (let d = 0; d < params.documents; d++) {
        if (loadGenerator.workerOf(d) !== worker) continue;
        const urls = setup.nodes.map((node) => node.url(`${setup.group}-${d}`));
        docs.push({
          url: urls[0] ?? "",
          urls,
          clients: params.clientsPerDocument,
          replicas: params.clientsPerDocument,
        });
      }
      return { group: setup.group, docs, connectConcurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS };
    },
    CONNECT_TIMEOUT_MS + 5000,
  );
}

async function runWindow(
  setup: Setup,
  loadGenerator: LoadGenerator,
  params: ClusterParams,
  backing: BackingServices | null,
  seconds: number,
  editsPerSecond = params.editsPerSecond,
): Promise<Window> {
  const serverCpu = () => sum(setup.nodes.map((node) => node.stats().cpuMicros));
  const backingCpu = () => backing?.cpuMicros() ?? { postgres: 0, redis: 0 };
  const serverBefore = serverCpu();
  const backingBefore = backingCpu();
  const machineBefore = readMachineCpu();
  const results = await loadGenerator.all(
    "fanout-run",
    () => ({
      group: setup.group,
      editsPerSecond,
      durationMs: seconds * 1000,
      drainTimeoutMs: params.drainTimeoutSeconds * 1000,
      perDelivery: true,
    }),
    (seconds + params.drainTimeoutSeconds) * 1000 + 60_000,
  );
  const backingAfter = backingCpu();
  const machineAfter = readMachineCpu();
  for (const node of setup.nodes) node.assertAlive("cluster");
  return {
    results,
    serverCpuMicros: serverCpu() - serverBefore,
    postgresCpuMicros: backingAfter.postgres - backingBefore.postgres,
    redisCpuMicros: backingAfter.redis - backingBefore.redis,
    rssBytes: sum(setup.nodes.map((node) => node.stats().rssBytes)),
    machineBusyPercent: machineBusyPercent(machineBefore, machineAfter),
    machineStealPercent: machineStealPercent(machineBefore, machineAfter),
  };
}

function aggregate(
  setup: Setup,
  params: ClusterParams,
  verify: { freshClients: number; mismatches: string[] },
): ClusterSetupResult {
  const all = setup.windows.flatMap((w) => w.results);
  const light = setup.lightWindows.flatMap((w) => w.results);
  // Lost and divergent are cumulative: read them after the very last window.
  const last = [...setup.windows, ...setup.lightWindows].at(-1)?.results ?? [];
  const seconds = sum(
    setup.windows.map((w) => Math.max(...w.results.map((r) => r.windowMs)) / 1000),
  );
  const edits = sum(all.map((r) => r.edits));
  const deliveries = sum(all.map((r) => r.deliveries));
  const perDelivery = (micros: number) => (deliveries > 0 ? micros / deliveries : Number.NaN);
  const serverCpuMicros = sum(setup.windows.map((w) => w.serverCpuMicros));
  const mean = (values: number[]) => sum(values) / Math.max(1, values.length);
  return {
    id: setup.id,
    label: setup.spec.label,
    kind: setup.spec.kind,
    nodes: setup.spec.nodes,
    clients: params.documents * params.clientsPerDocument,
    crossNode: summarize(all.map((r) => r.crossNodeLatencies)),
    sameNode: summarize(all.map((r) => r.sameNodeLatencies)),
    allReceivers: summarize(all.map((r) => r.latencies)),
    light: {
      crossNode: summarize(light.map((r) => r.crossNodeLatencies)),
      sameNode: summarize(light.map((r) => r.sameNodeLatencies)),
      editsPerSecond: params.lightEditsPerSecond,
      machineBusyPercent: mean(setup.lightWindows.map((w) => w.machineBusyPercent)),
    },
    edits,
    deliveries,
    deliveriesPerSecond: deliveries / seconds,
    serverCpuPerDelivery: perDelivery(serverCpuMicros),
    postgresCpuPerDelivery: setup.spec.postgres
      ? perDelivery(sum(setup.windows.map((w) => w.postgresCpuMicros)))
      : Number.NaN,
    redisCpuPerDelivery:
      setup.spec.redisDb !== null
        ? perDelivery(sum(setup.windows.map((w) => w.redisCpuMicros)))
        : Number.NaN,
    serverCpuPercent: serverCpuMicros / 1e4 / seconds,
    serverRssBytes: setup.windows.at(-1)?.rssBytes ?? Number.NaN,
    machineBusyPercent: mean(setup.windows.map((w) => w.machineBusyPercent)),
    machineStealPercent: mean(setup.windows.map((w) => w.machineStealPercent)),
    lost: sum(last.map((r) => r.lost)),
    divergentDocuments: sum(last.map((r) => r.divergentDocuments)),
    disconnectedClients: sum(last.map((r) => r.disconnectedClients)),
    freshClients: verify.freshClients,
    mismatches: verify.mismatches,
    load: worstLoad(all.map((r) => r.load)),
  };
}

/** The figure a setup's latency row shows: cross-node when there are several nodes. */
export function deliveryLatency(result: ClusterSetupResult): Summary {
  return result.nodes > 1 ? result.crossNode : result.sameNode;
}

/** The same at light load. */
export function lightDeliveryLatency(result: ClusterSetupResult): Summary {
  return result.nodes > 1 ? result.light.crossNode : result.light.sameNode;
}

export async function runClusterPaired(
  loadGenerator: LoadGenerator,
  params: ClusterParams,
  kinds: readonly ServerKind[],
): Promise<Partial<Record<ServerKind, ScenarioResult>>> {
  const ids = params.setups.filter((id) => kinds.includes(CLUSTER_SETUPS[id].kind));
  const needsBacking = ids.some((id) => CLUSTER_SETUPS[id].postgres);
  let backing: BackingServices | null = null;
  const setups: Setup[] = [];
  const connected: Setup[] = [];
  const results: ClusterSetupResult[] = [];
  try {
    if (needsBacking) backing = await startBackingServices();
    for (const id of ids) await startSetup(id, backing, setups);
    for (const setup of setups) {
      connected.push(setup);
      await connectSetup(setup, loadGenerator, params);
    }
    for (const setup of setups) {
      if (params.warmupSeconds > 0) {
        await runWindow(setup, loadGenerator, params, backing, params.warmupSeconds);
      }
    }
    const windowSeconds = params.durationSeconds / params.rounds;
    for (let round = 0; round < params.rounds; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        setup.windows.push(await runWindow(setup, loadGenerator, params, backing, windowSeconds));
      }
    }
    if (params.lightSeconds > 0) {
      for (const setup of setups) {
        setup.lightWindows.push(
          await runWindow(
            setup,
            loadGenerator,
            params,
            backing,
            params.lightSeconds,
            params.lightEditsPerSecond,
          ),
        );
      }
    }
    for (const setup of setups) {
      const verified = await loadGenerator.all(
        "fanout-verify",
        () => ({ group: setup.group, timeoutMs: VERIFY_TIMEOUT_MS }),
        VERIFY_TIMEOUT_MS + 5000,
      );
      results.push(
        aggregate(setup, params, {
          freshClients: sum(verified.map((v) => v.freshClients)),
          mismatches: verified.flatMap((v) => v.mismatches),
        }),
      );
    }
  } finally {
    for (const setup of connected) await loadGenerator.closeGroup(setup.group);
    for (const setup of setups) {
      for (const node of setup.nodes) await node.stop();
      for (const dir of setup.dataDirs) removeTempDir(dir);
    }
    await backing?.stop();
  }
  return toScenarioResults(results, kinds);
}

/**
 * Cowrite's row of the results table is the three-node cluster (or the
 * largest Cowrite setup run); the reference's is the reference. Every
 * Cowrite setup's integrity counts, and any disagreement fails the run.
 */
function toScenarioResults(
  results: ClusterSetupResult[],
  kinds: readonly ServerKind[],
): Partial<Record<ServerKind, ScenarioResult>> {
  const out: Partial<Record<ServerKind, ScenarioResult>> = {};
  for (const kind of kinds) {
    const mine = results.filter((r) => r.kind === kind);
    const shown = mine.reduce<ClusterSetupResult | null>(
      (best, r) => (best === null || r.nodes > best.nodes ? r : best),
      null,
    );
    if (!shown) {
      // No setup of this server in the parameters (smoke runs only the cluster).
      out[kind] = {
        measurements: [],
        load: [],
        integrity: { lost: 0, divergent: 0 },
        notes: [],
        problems: [],
      };
      continue;
    }
    const problems: string[] = [];
    for (const r of mine) {
      if (r.disconnectedClients > 0) {
        problems.push(`cluster ${r.id}: ${r.disconnectedClients} client(s) disconnected`);
      }
      for (const m of r.mismatches.slice(0, 5)) problems.push(`cluster ${r.id}: DIVERGED: ${m}`);
      if (r.mismatches.length > 5) {
        problems.push(`cluster ${r.id}: ${r.mismatches.length - 5} more mismatch(es)`);
      }
    }
    const latency = deliveryLatency(shown);
    // One name for both columns: Cowrite's is its largest setup (the
    // three-node cluster, cross-node deliveries), the reference's its one node.
    const name = "cluster delivery latency (cowrite: cross-node)";
    const measurements: Measurement[] = [
      { metric: `${name} p50`, unit: "ms", value: latency.p50 },
      { metric: `${name} p99`, unit: "ms", value: latency.p99 },
      {
        metric: "cluster server CPU per delivery (all nodes)",
        unit: "µs",
        value: shown.serverCpuPerDelivery,
      },
      { metric: "cluster lost edits", unit: "", value: sum(mine.map((r) => r.lost)) },
      {
        metric: "cluster divergent documents",
        unit: "",
        value: sum(mine.map((r) => r.divergentDocuments)),
      },
      {
        metric: "cluster convergence mismatches (replicas and fresh clients)",
        unit: "",
        value: sum(mine.map((r) => r.mismatches.length)),
      },
    ];
    out[kind] = {
      measurements,
      load: mine.map((r) => ({
        phase: `cluster ${r.id}`,
        sample: r.load,
        machineBusyPercent: r.machineBusyPercent,
        machineStealPercent: r.machineStealPercent,
      })),
      integrity: {
        lost: sum(mine.map((r) => r.lost)),
        // A fresh client or replica that disagrees counts as divergence too.
        divergent: sum(mine.map((r) => r.divergentDocuments + r.mismatches.length)),
      },
      notes: [],
      problems,
      details: { setups: mine } satisfies ClusterDetails,
    };
  }
  return out;
}
