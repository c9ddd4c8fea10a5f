/**
 * Worker side of fan-out (and of each ladder step): D documents x C clients
 * in this worker, each client editing R times a second. Each edit sets a
 * Y.Map key "<client>:<run>:<seq>" in the same transaction as its text insert
 * ("#<key>;"); receivers match the key against the pending table, so latency
 * runs from the local edit until every other client of the document has it,
 * all on this process's clock.
 *
 * Replicas apply every update to their Y.Doc and see keys arrive in the map;
 * at the end their texts must be equal (convergence). Key readers (the
 * ladder's clients beyond its replicas) apply nothing: they find the "#key;"
 * strings in the update's bytes. Applying costs a client more CPU than the
 * server spends delivering to it, so with 10 replicas per document the load
 * generator, not the server, bounded the ladder on 2 cores.
 */
import { runPool, signal, sleep, withTimeout } from "../async.ts";
import type { FanoutConnectArgs, FanoutRunArgs, FanoutRunResult } from "../messages.ts";
import { BenchClient, REMOTE } from "./bench-client.ts";
import { getSession, putSession, type Session } from "./groups.ts";
import { runPeriodically } from "./periodic.ts";

/** An edit's key as its text insert carries it (the text is ASCII, so latin1 reads it as is). */
const KEY_IN_TEXT = /#(\d+:\d+:\d+);/g;

interface PendingEdit {
  /** The run (warm-up or measured window) that made the edit. */
  run: number;
  sentAt: number;
  /** Receivers that have not applied it yet. */
  remaining: number;
}

export class FanoutSession implements Session {
  readonly pending = new Map<string, PendingEdit>();
  latencies: number[] = [];
  deliveries = 0;
  /** Counts runs, so keys and measurements never mix two runs. */
  run = 0;
  private drained = signal();

  constructor(readonly documents: BenchClient[][]) {
    for (const group of documents) {
      for (const client of group) this.observe(client);
    }
  }

  get clients(): BenchClient[] {
    return this.documents.flat();
  }

  /** Resolves once no edit is pending (or at once if none is). */
  whenDrained(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    this.drained = signal();
    return this.drained.promise;
  }

  async close(): Promise<number> {
    const clients = this.clients;
    const open = clients.filter((c) => !c.closed).length;
    await Promise.all(clients.map((c) => c.close()));
    return open;
  }

  private observe(client: BenchClient): void {
    if (!client.applyRemoteUpdates) {
      client.onUnappliedUpdate = (update) => {
        const now = performance.now();
        const text = Buffer.from(update.buffer, update.byteOffset, update.byteLength);
        for (const match of text.toString("latin1").matchAll(KEY_IN_TEXT)) {
          this.arrived(match[1] as string, now);
        }
      };
      return;
    }
    client.doc.getMap<number>("lat").observe((event) => {
      if (event.transaction.origin !== REMOTE) return;
      const now = performance.now();
      for (const key of event.keysChanged) this.arrived(key, now);
    });
  }

  private arrived(key: string, now: number): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    // A late arrival from an earlier run is no longer lost, but its
    // latency and delivery belong to that run, not to this one.
    const current = entry.run === this.run;
    if (current) this.deliveries++;
    entry.remaining--;
    if (entry.remaining === 0) {
      if (current) this.latencies.push(now - entry.sentAt);
      this.pending.delete(key);
      if (this.pending.size === 0) this.drained.resolve();
    }
  }
}

export async function connectFanout(args: FanoutConnectArgs): Promise<{ clients: number }> {
  const documents: BenchClient[][] = args.docs.map(() => []);
  const slots = args.docs.flatMap((doc, index) =>
    Array.from({ length: doc.clients }, (_, n) => ({
      index,
      url: doc.url,
      replica: n < (doc.replicas ?? doc.clients),
    })),
  );
  const opened: BenchClient[] = [];
  let cancelled = false;
  try {
    // Sockets open at construction, so clients are created inside the pool:
    // at most connectConcurrency handshakes are in flight.
    await withTimeout(
      runPool(slots, args.connectConcurrency, async ({ index, url, replica }) => {
        if (cancelled) return;
        const client = new BenchClient(url, { applyRemoteUpdates: replica });
        opened.push(client);
        documents[index]?.push(client);
        await client.synced;
      }),
      args.timeoutMs,
      `sync of ${slots.length} fan-out clients`,
    );
  } catch (error) {
    // Stop the pool's lanes from opening more, then close what they opened.
    cancelled = true;
    await Promise.all(opened.map((c) => c.close()));
    throw error;
  }
  putSession(args.group, new FanoutSession(documents));
  return { clients: opened.length };
}

export async function runFanout(args: FanoutRunArgs): Promise<FanoutRunResult> {
  const session = getSession(args.group, FanoutSession);
  // Each run measures afresh (a warm-up run comes first).
  const run = ++session.run;
  session.latencies = [];
  session.deliveries = 0;
  const actions: Array<() => void> = [];
  let edits = 0;
  let clientIndex = 0;
  for (const group of session.documents) {
    const receivers = group.length - 1;
    for (const client of group) {
      const id = clientIndex++;
      const text = client.doc.getText("text");
      const map = client.doc.getMap<number>("lat");
      let seq = 0;
      // Each client types at its own position, like people writing different
      // parts of one text at once: an index that starts somewhere random and
      // moves on with each insert (others' inserts before it shift the text
      // under it, as they would under a careless cursor).
      let cursor = Math.floor(Math.random() * (text.length + 1));
      const edit = () => {
        if (client.closed) return;
        const key = `${id}:${run}:${seq++}`;
        if (receivers > 0)
          session.pending.set(key, { run, sentAt: performance.now(), remaining: receivers });
        edits++;
        // One transaction, so the text insert and the latency key travel in one update.
        client.edit(() => {
          cursor = Math.min(cursor, text.length);
          text.insert(cursor, `#${key};`);
          cursor += key.length + 2;
          map.set(key, seq);
        });
      };
      actions.push(edit);
    }
  }
  const { windowMs, load } = await runPeriodically(actions, args.editsPerSecond, args.durationMs);

  // Bounded wait for in-flight edits to reach everyone.
  await Promise.race([session.whenDrained(), sleep(args.drainTimeoutMs)]);

  // Convergence: every replica of a document must hold the same text.
  let divergentDocuments = 0;
  for (const group of session.documents) {
    const replicas = group.filter((c) => c.applyRemoteUpdates);
    const first = replicas[0]?.doc.getText("text").toString();
    if (replicas.some((c) => c.doc.getText("text").toString() !== first)) divergentDocuments++;
  }
  const clients = session.clients;
  return {
    latencies: Float64Array.from(session.latencies),
    edits,
    deliveries: session.deliveries,
    lost: session.pending.size,
    divergentDocuments,
    disconnectedClients: clients.filter((c) => c.closed).length,
    windowMs,
    load,
  };
}
