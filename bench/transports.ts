/**
 * The HTTP fallback against WebSocket: `npm run bench:transports`.
 *
 * DOCS documents, each with one writer on a WebSocket and RECEIVERS
 * receivers on the transport under test. Each writer makes UPDATES updates,
 * one every INTERVAL_MS, each carrying the time it was made; receivers
 * record when it reaches them (one process, one clock). Three ways, each
 * against a fresh server process:
 * - the reference @y/websocket-server, receivers on WebSocket (stock client),
 * - Cowrite, receivers on WebSocket (CowriteProvider),
 * - Cowrite, receivers on the HTTP fallback (CowriteProvider + HttpSocket).
 * Reports fan-out latency (p50 / p99) and the server's CPU time per
 * delivered update; ratios are against the reference.
 */
import { HttpSocket } from "../client/src/http-socket.ts";
import type { WebSocketConstructor } from "../client/src/provider.ts";
import { makeTempDir, removeTempDir } from "./children.ts";
import {
  cowriteClient,
  type DocClient,
  NodeWebSocket,
  referenceClient,
  withTimeout,
} from "./doc-clients.ts";
import { type ServerKind, ServerProcess } from "./servers.ts";
import { percentile } from "./stats.ts";

const DOCS = Number(process.env.BENCH_DOCS ?? 10);
const RECEIVERS = Number(process.env.BENCH_RECEIVERS ?? 10);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 200);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 20);
const TIMEOUT_MS = 120_000;

type Way = "reference" | "cowrite-ws" | "cowrite-http";

interface Result {
  p50: number;
  p99: number;
  cpuMicrosPerDelivery: number;
  delivered: number;
}

async function measure(way: Way): Promise<Result> {
  const kind: ServerKind = way === "reference" ? "reference" : "cowrite";
  const dataDir = makeTempDir(`transports-${way}`);
  const server = await ServerProcess.start(kind, dataDir);
  const clients: DocClient[] = [];
  try {
    const base = `ws://127.0.0.1:${server.port}${kind === "cowrite" ? "/ws" : ""}`;
    const receiverSocket =
      way === "cowrite-http" ? (HttpSocket as unknown as WebSocketConstructor) : NodeWebSocket;
    const make = (docId: string, Socket: WebSocketConstructor) =>
      kind === "reference" ? referenceClient(base, docId) : cowriteClient(base, docId, Socket);
    const writers: DocClient[] = [];
    const latencies: number[] = [];
    let delivered = 0;
    const allDelivered = new Promise<void>((resolve) => {
      for (let d = 0; d < DOCS; d++) {
        const docId = `transports-${d}`;
        const writer = make(docId, NodeWebSocket);
        writers.push(writer);
        clients.push(writer);
        for (let r = 0; r < RECEIVERS; r++) {
          const receiver = make(docId, receiverSocket);
          clients.push(receiver);
          receiver.doc.getMap<number>("sent").observe((event) => {
            const at = performance.now();
            for (const key of event.keysChanged) {
              const sentAt = event.target.get(key);
              if (typeof sentAt !== "number") continue;
              latencies.push(at - sentAt);
              delivered += 1;
              if (delivered === DOCS * RECEIVERS * UPDATES) resolve();
            }
          });
        }
      }
    });
    await withTimeout(Promise.all(clients.map((client) => client.synced)), "sync", TIMEOUT_MS);

    const before = server.stats().cpuMicros;
    for (let u = 0; u < UPDATES; u++) {
      for (const writer of writers)
        writer.doc.getMap<number>("sent").set(`u${u}`, performance.now());
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    }
    await withTimeout(allDelivered, "delivery", TIMEOUT_MS);
    const cpu = server.stats().cpuMicros - before;
    server.assertAlive(`transports (${way})`);
    latencies.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpuMicrosPerDelivery: cpu / delivered,
      delivered,
    };
  } finally {
    for (const client of clients) client.destroy();
    await server.stop();
    removeTempDir(dataDir);
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const ways: Way[] = ["reference", "cowrite-ws", "cowrite-http"];
const results: Partial<Record<Way, Result>> = {};
for (const way of ways) results[way] = await measure(way);
const reference = results.reference as Result;
const ratio = (value: number, of: number) => (of > 0 ? `${(value / of).toFixed(2)}x` : "n/a");
say(
  `${DOCS} documents x (1 writer + ${RECEIVERS} receivers), ${UPDATES} updates per writer every ${INTERVAL_MS} ms`,
);
say("| way | delivered | latency p50 | latency p99 | server CPU per delivered update |");
say("| --- | --- | --- | --- | --- |");
for (const way of ways) {
  const r = results[way] as Result;
  say(
    `| ${way} | ${r.delivered} | ${r.p50.toFixed(1)} ms (${ratio(r.p50, reference.p50)}) | ${r.p99.toFixed(1)} ms (${ratio(r.p99, reference.p99)}) | ${r.cpuMicrosPerDelivery.toFixed(0)} µs (${ratio(r.cpuMicrosPerDelivery, reference.cpuMicrosPerDelivery)}) |`,
  );
}
