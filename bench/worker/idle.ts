/**
 * Worker side of the idle scenario: opens this worker's share of the idle
 * connections with bounded concurrency, timing each from socket creation to
 * the server's sync step 2, and keeps them open until close-group.
 */
import WebSocket from "ws";
import { runPool } from "../async.ts";
import type { IdleOpenArgs, IdleOpenResult } from "../messages.ts";
import { LoadMonitor } from "../stats.ts";
import { putSession, type Session } from "./groups.ts";
import { IdleClient } from "./idle-client.ts";

/** One connection's handshake + initial sync must finish within this. */
const CONNECT_TIMEOUT_MS = 30_000;

class IdleSession implements Session {
  constructor(private readonly clients: IdleClient[]) {}

  async close(): Promise<number> {
    const open = this.clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
    // Bounded concurrency here too: 7k simultaneous close handshakes would
    // only measure the kernel's accept/close queues.
    await runPool(this.clients, 200, (client) => client.close());
    return open;
  }
}

export async function openIdle(args: IdleOpenArgs): Promise<IdleOpenResult> {
  const monitor = new LoadMonitor();
  monitor.start();
  const clients: IdleClient[] = [];
  const connectMs: number[] = [];
  let failed = 0;
  let firstError: string | null = null;
  const deadline = performance.now() + args.timeoutMs;
  await runPool(args.urls, args.concurrency, async (url) => {
    if (performance.now() > deadline) {
      failed++;
      firstError ??= `not attempted: ${args.timeoutMs} ms budget spent`;
      return;
    }
    try {
      const { client, ms } = await IdleClient.open(url, CONNECT_TIMEOUT_MS);
      clients.push(client);
      connectMs.push(ms);
    } catch (error) {
      failed++;
      firstError ??= (error as Error).message;
    }
  });
  putSession(args.group, new IdleSession(clients));
  return { connectMs: Float64Array.from(connectMs), failed, firstError, load: monitor.stop() };
}
