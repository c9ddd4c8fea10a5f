/**
 * Renders docs/benchmarks.md from one full run: results, targets, ladder
 * steps, the load generator's own load, and how each number was obtained.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import type { ClusterParams } from "./params.ts";
import { fmt, markdownTable, type Row, type RunInfo } from "./report.ts";
import {
  type ClusterDetails,
  type ClusterSetupResult,
  deliveryLatency,
  lightDeliveryLatency,
} from "./scenarios/cluster.ts";
import { levelLabel } from "./scenarios/idle.ts";
import type { LadderStep } from "./scenarios/ladder.ts";
import { SERVER_KINDS } from "./servers.ts";
import { SATURATED_CPU_PERCENT, SATURATED_LOOP_DELAY_P99_MS } from "./stats.ts";
import { type TargetResult, targetsTable } from "./targets.ts";

function ladderTables(info: RunInfo): string {
  const parts: string[] = [];
  for (const kind of SERVER_KINDS) {
    const details = info.details.ladder?.[kind] as
      | { steps: LadderStep[]; stopReason: string }
      | undefined;
    if (!details) continue;
    parts.push(`**${kind}** — ${details.stopReason}.\n`);
    parts.push(
      "| documents × clients | p50 (ms) | p99 (ms) | deliveries/s | server CPU (% of a core) | server CPU per delivery (µs) | load generator CPU (% of a core, worst worker) | load generator event-loop delay p99 (ms) | machine CPU busy (% of all cores) | of which stolen by the hypervisor (%) | verdict |",
    );
    parts.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (const s of details.steps) {
      const retry = s.attempt > 1 ? " (retry)" : "";
      parts.push(
        `| ${s.documents} × ${s.clients / s.documents} = ${s.clients}${retry} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.deliveriesPerSecond)} | ${fmt(s.serverCpuPercent)} | ${fmt(s.serverCpuPerDeliveryMicros)} | ${fmt(s.loadGenerator?.cpuPercent)} | ${fmt(s.loadGenerator?.loopDelayP99Ms)} | ${fmt(s.machineBusyPercent)} | ${fmt(s.machineStealPercent)} | ${s.verdict} |`,
      );
    }
    parts.push("");
  }
  return parts.join("\n");
}

/** Every setup the cluster scenario ran, Cowrite's first. */
function clusterSetups(info: RunInfo): ClusterSetupResult[] {
  return SERVER_KINDS.flatMap(
    (kind) => (info.details.cluster?.[kind] as ClusterDetails | undefined)?.setups ?? [],
  );
}

/**
 * The cluster section: latency, CPU and convergence per setup, with ratios
 * to single-node SQLite (Cowrite's default) and to the reference. Exported
 * so a partial run (--only=cluster) can render it too.
 */
export function clusterSection(info: RunInfo): string {
  const setups = clusterSetups(info);
  if (setups.length === 0) return "";
  const c: ClusterParams = info.parameters.cluster;
  const sqlite = setups.find((r) => r.id === "sqlite-1");
  const reference = setups.find((r) => r.id === "reference");
  const ratio = (value: number, base: number | undefined) =>
    base === undefined || !(base > 0) ? "n/a" : fmt(value / base);
  const total = (r: ClusterSetupResult) =>
    r.serverCpuPerDelivery +
    (Number.isNaN(r.postgresCpuPerDelivery) ? 0 : r.postgresCpuPerDelivery) +
    (Number.isNaN(r.redisCpuPerDelivery) ? 0 : r.redisCpuPerDelivery);
  const latency = [
    "| setup | deliveries | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | p50 / SQLite | p99 / SQLite | p50 / reference | p99 / reference | until all receivers p99 (ms) | light load: deliveries | light p50 (ms) | light p99 (ms) | light p50 / SQLite | light p50 / reference |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const latencyRow = (
    label: string,
    l: ClusterSetupResult["crossNode"],
    light: ClusterSetupResult["crossNode"],
    allP99: string,
  ) => {
    const base = sqlite ? deliveryLatency(sqlite) : undefined;
    const ref = reference ? deliveryLatency(reference) : undefined;
    const lightBase = sqlite ? lightDeliveryLatency(sqlite) : undefined;
    const lightRef = reference ? lightDeliveryLatency(reference) : undefined;
    latency.push(
      `| ${label} | ${l.count} | ${fmt(l.p50)} | ${fmt(l.p95)} | ${fmt(l.p99)} | ${fmt(l.max)} | ${ratio(l.p50, base?.p50)} | ${ratio(l.p99, base?.p99)} | ${ratio(l.p50, ref?.p50)} | ${ratio(l.p99, ref?.p99)} | ${allP99} | ${light.count} | ${fmt(light.p50)} | ${fmt(light.p99)} | ${ratio(light.p50, lightBase?.p50)} | ${ratio(light.p50, lightRef?.p50)} |`,
    );
  };
  for (const r of setups) {
    if (r.nodes > 1) {
      latencyRow(
        `${r.label}: **cross-node**`,
        r.crossNode,
        r.light.crossNode,
        fmt(r.allReceivers.p99),
      );
      latencyRow(`${r.label}: same node`, r.sameNode, r.light.sameNode, "");
    } else {
      latencyRow(r.label, r.sameNode, r.light.sameNode, fmt(r.allReceivers.p99));
    }
  }
  const cpu = [
    "| setup | deliveries/s | server CPU per delivery, all nodes (µs) | / SQLite | / reference | PostgreSQL CPU per delivery (µs) | Redis CPU per delivery (µs) | all of it (µs) | all / SQLite | all / reference | server CPU (% of a core, all nodes) | server RSS, all nodes (MB) | machine CPU busy (%) | load generator event-loop delay p99 (ms, worst worker) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of setups) {
    cpu.push(
      `| ${r.label} | ${fmt(r.deliveriesPerSecond)} | ${fmt(r.serverCpuPerDelivery)} | ${ratio(r.serverCpuPerDelivery, sqlite?.serverCpuPerDelivery)} | ${ratio(r.serverCpuPerDelivery, reference?.serverCpuPerDelivery)} | ${fmt(r.postgresCpuPerDelivery)} | ${fmt(r.redisCpuPerDelivery)} | ${fmt(total(r))} | ${ratio(total(r), sqlite ? total(sqlite) : undefined)} | ${ratio(total(r), reference ? total(reference) : undefined)} | ${fmt(r.serverCpuPercent)} | ${fmt(r.serverRssBytes / 2 ** 20)} | ${fmt(r.machineBusyPercent)} | ${fmt(r.load.loopDelayP99Ms)} |`,
    );
  }
  const convergence = [
    "| setup | edits | deliveries | lost | divergent documents | fresh clients checked | mismatches | disconnected clients |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of setups) {
    convergence.push(
      `| ${r.label} | ${r.edits} | ${r.deliveries} | ${r.lost} | ${r.divergentDocuments} | ${r.freshClients} | ${r.mismatches.length} | ${r.disconnectedClients} |`,
    );
  }
  const mismatches = setups.flatMap((r) => r.mismatches.map((m) => `- ${r.label}: ${m}`));
  return `## Cluster

Cluster mode (\`DATABASE_URL\` + \`REDIS_URL\`): the fan-out load,
${c.documents} documents × ${c.clientsPerDocument} clients × ${c.editsPerSecond} edits/s, on each setup below; in the
three-node cluster each document's clients are spread over the nodes
(client n on node n mod 3), so an edit typed on node A reaches the clients
on nodes B and C through PostgreSQL and Redis. All setups run at once with
their clients connected, measured in ${c.rounds} alternating windows of ${c.durationSeconds / c.rounds} s each
after ${c.warmupSeconds} s of unmeasured warm-up, only the measured setup's clients editing.
PostgreSQL and Redis are private servers the benchmark starts on free
ports in temp folders and stops afterwards.

**This machine has ${info.cpus} cores.** Three Cowrite nodes, PostgreSQL, Redis and
the load generator's ${info.loadGenerator.workers} workers all share them, so these numbers say what
the cluster costs per delivered update and whether it stays correct, not
how far it scales: on ${info.cpus} cores three nodes can only be slower than one.
Measure capacity on one machine per node.

Latency per delivery (an edit applied by one receiving client), from the
edit until that receiver applied it. For the three-node cluster,
cross-node deliveries (sender and receiver on different nodes) and
same-node ones are shown apart; single nodes have only same-node ones.
"Until all receivers" is the fan-out scenario's measure (until every other
client of the document has the edit). "Light load" is one more window of
${c.lightSeconds} s per setup on the same clients at ${c.lightEditsPerSecond} edits/s per client
(${c.documents * c.clientsPerDocument * c.lightEditsPerSecond} edits/s in all): at the full rate the three-node setup and
its PostgreSQL and Redis keep both cores busy, so its full-rate latency is
largely waiting for a core; the light-load figure is closer to the cost of
the extra hop itself.

${latency.join("\n")}

Server CPU is utime + stime of the setup's server processes (all nodes
summed), over the windows including their drain, per delivery. PostgreSQL
is the postmaster and every backend under it (exited ones through the
postmaster's cutime), Redis its one process; they serve whichever setup is
measuring, so their figure is charged to that window. "All of it" adds them.

${cpu.join("\n")}

Convergence: at the end every replica of a document (all ${c.clientsPerDocument} clients apply
every update) must hold the same text and state vector, and so must a
fresh client opened on every node of the setup. Any mismatch fails the run.

${convergence.join("\n")}
${mismatches.length > 0 ? `\n**DIVERGED:**\n\n${mismatches.join("\n")}\n` : ""}
`;
}

function loadTable(info: RunInfo): string {
  const lines = [
    "| phase | server | CPU (% of a core, worst worker) | event-loop delay p99 (ms) | event-loop delay max (ms) | machine CPU busy (% of all cores) | of which stolen by the hypervisor (%) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const kind of SERVER_KINDS) {
    for (const { phase, sample, machineBusyPercent, machineStealPercent } of info.loadGenerator
      .phases[kind]) {
      if (phase.startsWith("ladder")) continue; // shown in the ladder tables
      lines.push(
        `| ${phase} | ${kind} | ${fmt(sample.cpuPercent)} | ${fmt(sample.loopDelayP99Ms)} | ${fmt(sample.loopDelayMaxMs)} | ${fmt(machineBusyPercent)} | ${fmt(machineStealPercent)} |`,
      );
    }
  }
  return lines.join("\n");
}

export function writeDocs(
  file: string,
  info: RunInfo,
  rows: readonly Row[],
  targets: readonly TargetResult[],
): void {
  const p = info.parameters;
  const f = p.fanout;
  const l = p.ladder;
  const w = p.writePath;
  const pr = p.presence;
  const b = p.bigdoc;
  const idleLevels = p.idle.levels
    .map((level) => {
      const label = levelLabel(level);
      const opened = info.idleConnections[label] ?? level;
      return opened === level ? label : `${label} (capped at ${opened} connections)`;
    })
    .join(", ");
  const notes = [...info.notes, ...info.failures.map((x) => `FAILURE: ${x}`)];
  const text = `# Benchmarks

Cowrite's sync server against the reference \`@y/websocket-server\` 0.1.1
(LevelDB persistence), same scenarios, same machine, one invocation. Numbers
are from one run on a shared machine; rerun before drawing fine conclusions.

How to run: \`npm run bench\` (full, about 12 minutes; rewrites this file and
\`bench/results/latest.json\`) or \`npm run bench:smoke\` (every scenario at toy
size in well under a minute, checks only that nothing is lost, diverges or
crashes; writes only \`bench/results/smoke.json\`). One scenario alone:
\`npm run build:server && node --import tsx bench/run.ts --only=cluster\`
(writes only \`bench/results/partial.json\`).

- Date: ${info.date}
- Machine: ${info.cpus} cores (${info.cpuModel}), ${os.platform()} ${os.arch()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB
- Node: ${info.node}
- Wall time of this run: ${Math.round(info.wallSeconds)} s
- Load generator: ${info.loadGenerator.workers} worker processes, sharing the machine with the server under test

## Targets

Ratios are cowrite / reference from this run.

${targetsTable(targets)}

## Results

${markdownTable(rows)}

## Ladder steps

${ladderTables(info)}
${clusterSection(info)}
## Load generator

Worst worker per phase. A worker counts as saturated (its timestamps include
its own queueing) above ${SATURATED_CPU_PERCENT}% of a core or an event-loop delay p99 above
${SATURATED_LOOP_DELAY_P99_MS} ms; a ladder step where that happens stops the ladder and says so.
"Machine CPU busy" counts every process on the machine (from \`/proc/stat\`):
near 100% the server and the load generator were competing for the cores,
and on a shared machine other people's work shows up there too. "Stolen"
is the part of it the hypervisor gave to other virtual machines on the same
host (the \`steal\` column of \`/proc/stat\`): time when neither server nor
load generator could run. Latencies measured under heavy steal are not
comparable with those measured without it; that is why fan-out and idle
alternate between the servers. A ladder
step that fails on timing (p99 or saturation) is retried once, since a
passing spike from elsewhere can fail a step the server would sustain.

${loadTable(info)}
${notes.length > 0 ? `\n## Notes from this run\n\n${notes.map((n) => `- ${n}`).join("\n")}\n` : ""}
## How each number is obtained

Both servers run as child processes on 127.0.0.1, each with a fresh temp data
directory: Cowrite as \`npm run serve\` starts it (\`node\` with the same flags
on the production build \`server/dist/main.js\`, SQLite storage, raised
per-connection and per-document limits so they do not cap the measurement), the reference as \`node_modules/@y/websocket-server/src/server.js\`
with \`YPERSISTENCE\`. Server CPU is utime + stime and RSS is VmRSS, both read
from \`/proc/<pid>\`. The clients are real \`ws\` WebSockets speaking the
y-websocket protocol with a Y.Doc each (no awareness), in ${info.loadGenerator.workers} worker
processes separate from the orchestrator and the servers. Documents are
sharded over the workers so every client of a document lives in the same
worker: latencies are measured on that one process's clock
(\`performance.now()\`, which is CLOCK_MONOTONIC, system-wide on Linux, so the
numbers would also compare across workers). Every wait is bounded and the
whole run has a watchdog (${p.watchdogSeconds} s).

**Durability differs.** Cowrite broadcasts an update only after it is fsynced,
and answers a client's sync step 1 only after that client's earlier updates
are durable. The reference broadcasts first and writes to LevelDB afterwards,
without fsync. The reference's latencies therefore contain no disk write.

- **fanout** — ${f.documents} documents × ${f.clientsPerDocument} clients, each client
  typing into a shared Y.Text at its own position (an index that starts at a
  random place and moves on with each insert) ${f.editsPerSecond} times a second, measured for ${f.durationSeconds} s per server after ${f.warmupSeconds} s of
  the same load that is not measured (so JIT warm-up in the server and the
  load generator counts for neither). Both servers run at once with their
  clients connected, and the ${f.durationSeconds} s are ${f.rounds} windows that alternate between them
  (Cowrite, reference; reference, Cowrite; ...), only the measured server's
  clients editing: on a shared VM the background load and the hypervisor's
  steal drift within a minute, and alternating spreads that drift over both
  servers instead of charging it to whichever ran second. Each edit
  also sets a Y.Map key \`<client>:<seq>\` in the same transaction; latency
  runs from the local edit until every other client of that document has
  applied it (p50/p95/p99/max over all edits). Edits/s and deliveries/s
  (an edit applied by one receiver is one delivery) over the edit window;
  server CPU per delivery = server CPU over the window (including the drain)
  / deliveries. At the end, clients that never got an edit within
  ${f.drainTimeoutSeconds} s count as lost, and every document's clients must hold identical text.
- **ladder** — fan-out with ${l.clientsPerDocument} clients per document at ${l.editsPerSecond} edits/s, documents
  raised through ${l.documentSteps.join(", ")}; each step connects fresh documents${l.warmupSeconds > 0 ? `, warms up for ${l.warmupSeconds} s` : ""}, measures
  for ${l.stepSeconds} s, drains, checks convergence and closes its clients. A step fails
  on latency p99 > ${l.p99LimitMs} ms, any lost edit or dropped client, or a saturated
  load generator (a timing failure gets one retry). The highest sustained level is documents × clients of the
  last step that passed; the top-step figures are from that step. Each ladder
  has a ${l.budgetSeconds} s budget. Of each document's ${l.clientsPerDocument} clients, ${l.replicasPerDocument} apply every
  update to their Y.Doc (latency until applied; their texts are compared for
  convergence); the others read the edit keys straight out of the update's
  bytes (latency until received). Applying every update on every client cost
  the load generator more CPU per delivery than either server, so with all
  clients applying, both ladders ended on a saturated load generator.
- **write path** — ${w.documents} documents × ${w.writersPerDocument} writers plus one observer per
  document. Each writer sends small updates (one Y.Map key each) with at most
  ${w.maxInFlight} unacknowledged; an update counts as accepted when the observer applies
  its broadcast, which for Cowrite means it is durable. Accepted updates/s
  over ${w.durationSeconds} s, and send→observed p50/p99. Afterwards a fresh client must see
  every key the observer saw. "receipt→durable p99 (server)" is Cowrite's own
  histogram \`cowrite_update_durable_seconds\` from \`GET /metrics\` (time
  from receiving an update to its fsync), its p99 interpolated within the
  bucket that holds it; the reference
  has no such measure and does not fsync, so it is n/a there.
- **presence** — ${pr.documents} documents × ${pr.clientsPerDocument} clients, each moving its caret (publishing a
  new awareness state: name, colour, cursor) ${pr.updatesPerSecond} times a second for ${pr.durationSeconds} s. Server CPU
  per change = server CPU over the window / changes published; messages
  received counts awareness messages at all clients, states delivered counts
  other clients' states in them (one message may carry many). Latency runs
  from publishing a state until a receiver has it, per delivery. The
  reference relays each change to every client at once; Cowrite sends a
  document's changes of each 25 ms as one message per client, so its latency
  includes that wait.
- **bigdoc** — one ${fmt(b.characters / 1e6)} M-character Y.Text typed as ${b.runLength}-character runs at
  random positions (seed ${b.seed}), so the update has many items; it is generated
  once and cached in \`bench/results/\`. It is pushed as one update frame
  (push + ack: until the server answers a following sync step 1). Fresh
  clients then time from opening the socket until the document's bytes have
  arrived (received), and for single clients until also applied to a Y.Doc
  (received + applied: the client's own apply cost, equal for both servers,
  is included). ${b.concurrentClients} clients at once: until the last has received it; they
  apply afterwards, so clients sharing a worker do not delay each other, and
  each is checked to hold the pushed update's full state vector. Cold: the
  server is stopped (after its data directory stopped growing: the reference
  writes asynchronously) and restarted on the same directory. Storage is the
  apparent size of all files in the data directory after the restart.
- **idle** — levels ${idleLevels}; each on a fresh
  server, the two servers taking turns to go first from one level to the
  next (as in fan-out, so drift in the machine's background load is shared). Clients connect (at most ${p.idle.connectConcurrency} handshakes in flight over all workers,
  ${p.idle.clientsPerDocument} clients per document), sync once (step 1 out, server's step 2 back) and
  stay open. Connects/s = connections / time until all are synced; handshake
  + sync per connection from socket creation to the server's step 2. RSS per
  connection = (RSS with all open, 1 s after the last connect − RSS at start)
  / connections. After all close, RSS is polled until it is within 5% of
  the start or has not fallen by 1% for ${p.idle.settleStableSeconds} s (at most ${p.idle.settleMaxSeconds} s: V8 and
  malloc return memory lazily), and compared with RSS at start (taken on the
  fresh server before any connection). One server process holds all of a
  level's sockets, so the process open-file limit (${info.fdLimit} here; the
  harness raises a child's soft limit to the hard one but cannot exceed it)
  can cap the top level; the connections row shows what was opened.
${DESIGN_MEASUREMENTS}`;
  writeFileSync(file, text);
}

/** Static: measured once for design decisions, kept across regenerations. */
const DESIGN_MEASUREMENTS = `
## Design measurements

One-off experiments behind design choices in the code; \`npm run bench\` does
not rerun them. The code's comments keep the reasons, these the numbers.

- **SQLite writer on the server's thread** (\`server/src/storage/sqlite-writer.ts\`;
  until 2026-11 the writer ran on a worker thread). On the worker, every
  commit cost a structured clone and a thread wake-up each way: on the
  fan-out benchmark, a quarter of the server's CPU per delivered update.
  Inline, a commit's fsync blocks the event loop for about 50 µs typically,
  a few ms at the tail on a busy disk; reading an 8 MB document takes a few
  ms. In alternating fan-out runs of three designs (writer on a worker,
  inline, fsync moved to libuv's thread pool), inline commits used the least
  CPU and had the lowest p99 latency: every broadcast waits for its fsync
  whichever thread performs it, and a thread hop adds a wake-up to each.
- **Memory reclaim after connections shed** (\`server/src/memory-reclaim.ts\`).
  After 15,000 idle connections closed (RSS 76.5 MB at start, 161 MB with all
  open): 84.4 MB 5 s after they closed with two \`gc()\` calls and
  \`malloc_trim\`, and 78 MB only once V8's own memory reducer acted, 15 s
  after; V8's low-memory notification releases those last pages at once.
  \`malloc_trim\` returns the native memory the connections used (one run:
  94 MB 3 s after closing with it, 110 MB without). Heap committed after
  19,000 connections: 139 MB, 60 MB after one \`gc()\`, 23 MB after two.
`;
