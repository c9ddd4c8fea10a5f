/**
 * Fan-out: D documents x C clients, each client editing R times a second.
 * Latency is from the local edit until every other client of the document has
 * applied it, on one clock (performance.now in this process): each edit sets
 * a Y.Map key "<client>:<seq>" next to its text insert, and receivers match
 * the key against the pending table.
 */
import { type BenchClient, closeAll, connectMany, percentile, REMOTE } from "../clients.ts";
import type { Measurement } from "../report.ts";
import { makeTempDir, removeTempDir, type ServerKind, ServerProcess, sleep } from "../servers.ts";

export interface FanoutParams {
  documents: number;
  clientsPerDocument: number;
  editsPerSecond: number;
  durationSeconds: number;
}

const DRAIN_TIMEOUT_MS = 15_000;

export async function runFanout(kind: ServerKind, params: FanoutParams): Promise<Measurement[]> {
  const dataDir = makeTempDir(`fanout-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  const clients: BenchClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const { documents, clientsPerDocument: perDoc } = params;
    const urls: string[] = [];
    for (let d = 0; d < documents; d++) {
      for (let c = 0; c < perDoc; c++) urls.push(server.url(`fanout-${d}`));
    }
    clients.push(...(await connectMany(urls)));

    // key -> send time and how many receivers have not applied it yet.
    const pending = new Map<string, { sentAt: number; remaining: number }>();
    const latencies: number[] = [];
    let deliveries = 0;
    let edits = 0;
    for (const client of clients) {
      client.doc.getMap<number>("lat").observe((event) => {
        if (event.transaction.origin !== REMOTE) return;
        const now = performance.now();
        for (const key of event.keysChanged) {
          const entry = pending.get(key);
          if (!entry) continue;
          deliveries++;
          entry.remaining--;
          if (entry.remaining === 0) {
            latencies.push(now - entry.sentAt);
            pending.delete(key);
          }
        }
      });
    }

    const before = server.stats();
    const startedAt = performance.now();
    const intervalMs = 1000 / params.editsPerSecond;
    clients.forEach((client, index) => {
      const text = client.doc.getText("text");
      const map = client.doc.getMap<number>("lat");
      let seq = 0;
      const edit = () => {
        const key = `${index}:${seq++}`;
        const sentAt = performance.now();
        pending.set(key, { sentAt, remaining: perDoc - 1 });
        edits++;
        // One transaction, so the text insert and the latency key travel in one update.
        client.doc.transact(() => {
          text.insert(Math.floor(Math.random() * (text.length + 1)), `${key};`);
          map.set(key, sentAt);
        });
      };
      // Random phase so clients do not all edit in the same tick.
      const start = setTimeout(() => {
        edit();
        timers.push(setInterval(edit, intervalMs));
      }, Math.random() * intervalMs);
      timers.push(start);
    });
    await sleep(params.durationSeconds * 1000);
    for (const timer of timers) clearInterval(timer);
    const editWindow = (performance.now() - startedAt) / 1000;

    // Bounded wait for in-flight edits to reach everyone.
    const drainDeadline = performance.now() + DRAIN_TIMEOUT_MS;
    while (pending.size > 0 && performance.now() < drainDeadline && !server.crashed)
      await sleep(50);
    const after = server.stats();
    if (server.crashed) throw new Error(`${kind} server crashed during fan-out`);
    if (pending.size > 0) {
      throw new Error(`${pending.size} of ${edits} edits not delivered to all clients`);
    }

    // Convergence: every client of a document must hold the same text.
    let divergent = 0;
    for (let d = 0; d < documents; d++) {
      const group = clients.slice(d * perDoc, (d + 1) * perDoc);
      const first = group[0]?.doc.getText("text").toString();
      if (group.some((c) => c.doc.getText("text").toString() !== first)) divergent++;
    }
    if (divergent > 0) throw new Error(`${divergent} of ${documents} documents diverged`);

    latencies.sort((a, b) => a - b);
    const cpuMicros = after.cpuMicros - before.cpuMicros;
    return [
      { metric: "fanout latency p50", unit: "ms", value: percentile(latencies, 50) },
      { metric: "fanout latency p95", unit: "ms", value: percentile(latencies, 95) },
      { metric: "fanout latency p99", unit: "ms", value: percentile(latencies, 99) },
      { metric: "fanout latency max", unit: "ms", value: latencies.at(-1) ?? Number.NaN },
      { metric: "fanout edits/s", unit: "1/s", value: edits / editWindow },
      { metric: "fanout deliveries/s", unit: "1/s", value: deliveries / editWindow },
      { metric: "fanout server CPU per delivery", unit: "µs", value: cpuMicros / deliveries },
      { metric: "fanout server CPU share", unit: "%", value: cpuMicros / 1e4 / editWindow },
      { metric: "fanout server RSS at end", unit: "MB", value: after.rssBytes / 2 ** 20 },
      { metric: "fanout divergent documents", unit: "", value: divergent },
    ];
  } finally {
    for (const timer of timers) clearInterval(timer);
    await closeAll(clients);
    await server.stop();
    removeTempDir(dataDir);
  }
}
