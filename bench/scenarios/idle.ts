/**
 * Idle connections: N synced clients that do nothing, spread over N/20
 * documents. Measures connect rate and the server's memory per connection,
 * then whether that memory comes back after all close.
 */
import { type BenchClient, closeAll, connectMany } from "../clients.ts";
import type { Measurement } from "../report.ts";
import { makeTempDir, removeTempDir, type ServerKind, ServerProcess, sleep } from "../servers.ts";

export interface IdleParams {
  connections: number;
}

export async function runIdle(kind: ServerKind, params: IdleParams): Promise<Measurement[]> {
  const dataDir = makeTempDir(`idle-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  let clients: BenchClient[] = [];
  try {
    const documents = Math.max(1, Math.ceil(params.connections / 20));
    const urls = Array.from({ length: params.connections }, (_, i) =>
      server.url(`idle-${i % documents}`),
    );
    const before = server.stats();
    const started = performance.now();
    clients = await connectMany(urls, 100, 60_000);
    const connectSeconds = (performance.now() - started) / 1000;
    await sleep(1000); // let allocations settle before reading RSS
    const open = server.stats();
    await closeAll(clients);
    clients = [];
    await sleep(2000);
    const after = server.stats();
    if (server.crashed) throw new Error(`${kind} server crashed during idle`);
    return [
      { metric: "idle connects/s", unit: "1/s", value: params.connections / connectSeconds },
      {
        metric: "idle RSS per connection",
        unit: "KB",
        value: (open.rssBytes - before.rssBytes) / 1024 / params.connections,
      },
      { metric: "idle RSS with all open", unit: "MB", value: open.rssBytes / 2 ** 20 },
      { metric: "idle RSS after all closed", unit: "MB", value: after.rssBytes / 2 ** 20 },
    ];
  } finally {
    await closeAll(clients);
    await server.stop();
    removeTempDir(dataDir);
  }
}
