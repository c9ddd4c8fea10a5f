/**
 * Worker side of the write path: per document, W writers and one observer.
 * Each writer keeps at most `maxInFlight` updates unacknowledged, where an
 * update is acknowledged when the observer applies its broadcast (for
 * Cowrite a broadcast implies durable). Each update sets one Y.Map key
 * "<writer>:<seq>", which the observer matches to the send time.
 */
import { sleep, withTimeout } from "../async.ts";
import type { WriteConnectArgs, WriteRunArgs, WriteRunResult } from "../messages.ts";
import { LoadMonitor } from "../stats.ts";
import { BenchClient, REMOTE } from "./bench-client.ts";
import { getSession, putSession, type Session } from "./groups.ts";

interface Writer {
  id: number;
  client: BenchClient;
  seq: number;
  inFlight: number;
}

interface WriteDoc {
  url: string;
  observer: BenchClient;
  writers: Writer[];
}

class WriteSession implements Session {
  constructor(readonly docs: WriteDoc[]) {}

  get clients(): BenchClient[] {
    return this.docs.flatMap((d) => [d.observer, ...d.writers.map((w) => w.client)]);
  }

  async close(): Promise<number> {
    const clients = this.clients;
    const open = clients.filter((c) => !c.closed).length;
    await Promise.all(clients.map((c) => c.close()));
    return open;
  }
}

export async function connectWrite(args: WriteConnectArgs): Promise<{ clients: number }> {
  let nextWriter = 0;
  const docs = args.docs.map(
    (doc): WriteDoc => ({
      url: doc.url,
      observer: new BenchClient(doc.url),
      // Writers only produce; see BenchClientOptions.applyRemoteUpdates.
      writers: Array.from({ length: doc.clients }, () => ({
        id: nextWriter++,
        client: new BenchClient(doc.url, { applyRemoteUpdates: false }),
        seq: 0,
        inFlight: 0,
      })),
    }),
  );
  const session = new WriteSession(docs);
  putSession(args.group, session);
  await withTimeout(
    Promise.all(session.clients.map((c) => c.synced)),
    args.timeoutMs,
    "write-path clients sync",
  );
  return { clients: session.clients.length };
}

export async function runWrite(args: WriteRunArgs): Promise<WriteRunResult> {
  const session = getSession(args.group, WriteSession);
  const monitor = new LoadMonitor();
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let sent = 0;
  let accepted = 0;
  let running = true;
  let windowEnd = Number.POSITIVE_INFINITY;
  let drained: () => void = () => {};

  const fill = (writer: Writer) => {
    while (running && writer.inFlight < args.maxInFlight && !writer.client.closed) {
      const key = `${writer.id}:${writer.seq++}`;
      writer.inFlight++;
      sent++;
      sentAt.set(key, performance.now());
      const map = writer.client.doc.getMap<number>("w");
      writer.client.edit(() => map.set(key, writer.seq));
    }
  };

  for (const doc of session.docs) {
    const byId = new Map(doc.writers.map((w) => [w.id, w]));
    doc.observer.doc.getMap<number>("w").observe((event) => {
      if (event.transaction.origin !== REMOTE) return;
      const now = performance.now();
      for (const key of event.keysChanged) {
        const sentTime = sentAt.get(key);
        if (sentTime === undefined) continue;
        sentAt.delete(key);
        latencies.push(now - sentTime);
        if (now <= windowEnd) accepted++;
        const writer = byId.get(Number(key.slice(0, key.indexOf(":"))));
        if (writer) {
          writer.inFlight--;
          fill(writer);
        }
      }
      if (sentAt.size === 0) drained();
    });
  }

  monitor.start();
  const startedAt = performance.now();
  for (const doc of session.docs) for (const writer of doc.writers) fill(writer);
  await sleep(args.durationMs);
  running = false;
  windowEnd = performance.now();
  const load = monitor.stop();
  if (sentAt.size > 0) {
    await Promise.race([
      new Promise<void>((resolve) => {
        drained = resolve;
      }),
      sleep(args.drainTimeoutMs),
    ]);
  }

  // Convergence: a fresh client's view of each document must equal the observer's.
  let divergentDocuments = 0;
  for (const doc of session.docs) {
    const fresh = new BenchClient(doc.url);
    try {
      await withTimeout(fresh.synced, args.drainTimeoutMs, "write-path check client sync");
      const mine = doc.observer.doc.getMap<number>("w");
      const theirs = fresh.doc.getMap<number>("w");
      if (mine.size !== theirs.size || [...mine.keys()].some((k) => !theirs.has(k))) {
        divergentDocuments++;
      }
    } finally {
      await fresh.close();
    }
  }
  return {
    latencies: Float64Array.from(latencies),
    sent,
    acceptedInWindow: accepted,
    lost: sentAt.size,
    divergentDocuments,
    disconnectedClients: session.clients.filter((c) => c.closed).length,
    windowMs: windowEnd - startedAt,
    load,
  };
}
