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

import * as Y from "yjs";
import { runPool, signal, sleep, withTimeout } from "../async.ts";
import type {
  FanoutConnectArgs,
  FanoutRunArgs,
  FanoutRunResult,
  FanoutVerifyArgs,
  FanoutVerifyResult,
} from "../messages.ts";
import { BenchClient, REMOTE } from "./bench-client.ts";
import { getSession, putSession, type Session } from "./groups.ts";
import { runPeriodically } from "./periodic.ts";

/** An edit's key as its text insert carries it (the text is ASCII, so latin1 reads it as is). */
const KEY_IN_TEXT = /#(\d+:\d+:\d+);/g;

interface PendingEdit {
  /** The run (warm-up or measured window) that made the edit. */
  run: number;
  sentAt: number;
  /** The sender's node (index into its document's URLs). */
  node: number;
  /** Receivers that have not applied it yet. */
  remaining: number;
}

export class FanoutSession implements Session {
  readonly pending = new Map<string, PendingEdit>();
  latencies: number[] = [];
  deliveries = 0;
  /** Counts runs, so keys and measurements never mix two runs. */
  run = 0;
  /** Per-delivery latencies of the current run, when it asked for them. */
  perDelivery = false;
  crossNode: number[] = [];
  sameNode: number[] = [];
  private drained = signal();

  /**
   * `urls[d]` are document d's servers; `nodes` maps each client to the
   * index of the one it is connected to.
   */
  constructor(
    readonly documents: BenchClient[][],
    readonly urls: string[][],
    readonly nodes: Map<BenchClient, number>,
  ) {
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
    const node = this.nodes.get(client) ?? 0;
    if (!client.applyRemoteUpdates) {
      client.onUnappliedUpdate = (update) => {
        const now = performance.now();
        const text = Buffer.from(update.buffer, update.byteOffset, update.byteLength);
        for (const match of text.toString("latin1").matchAll(KEY_IN_TEXT)) {
          this.arrived(match[1] as string, now, node);
        }
      };
      return;
    }
    client.doc.getMap<number>("lat").observe((event) => {
      if (event.transaction.origin !== REMOTE) return;
      const now = performance.now();
      for (const key of event.keysChanged) this.arrived(key, now, node);
    });
  }

  private arrived(key: string, now: number, node: number): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    // A late arrival from an earlier run is no longer lost, but its
    // latency and delivery belong to that run, not to this one.
    const current = entry.run === this.run;
    if (current) this.deliveries++;
    if (current && this.perDelivery) {
      (node === entry.node ? this.sameNode : this.crossNode).push(now - entry.sentAt);
    }
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
  const urls = args.docs.map((doc) => doc.urls ?? [doc.url]);
  const slots = args.docs.flatMap((doc, index) =>
    Array.from({ length: doc.clients }, (_, n) => {
      const docUrls = urls[index] ?? [];
      const node = n % docUrls.length;
      return {
        index,
        node,
        url: docUrls[node] ?? doc.url,
        replica: n < (doc.replicas ?? doc.clients),
      };
    }),
  );
  const opened: BenchClient[] = [];
  const nodes = new Map<BenchClient, number>();
  let cancelled = false;
  try {
    // Sockets open at construction, so clients are created inside the pool:
    // at most connectConcurrency handshakes are in flight.
    await withTimeout(
      runPool(slots, args.connectConcurrency, async ({ index, node, url, replica }) => {
        if (cancelled) return;
        const client = new BenchClient(url, { applyRemoteUpdates: replica });
        opened.push(client);
        nodes.set(client, node);
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
  putSession(args.group, new FanoutSession(documents, urls, nodes));
  return { clients: opened.length };
}

export async function runFanout(args: FanoutRunArgs): Promise<FanoutRunResult> {
  const session = getSession(args.group, FanoutSession);
  // Each run measures afresh (a warm-up run comes first).
  const run = ++session.run;
  session.latencies = [];
  session.deliveries = 0;
  session.perDelivery = args.perDelivery ?? false;
  session.crossNode = [];
  session.sameNode = [];
  const actions: Array<() => void> = [];
  let edits = 0;
  let clientIndex = 0;
  for (const group of session.documents) {
    const receivers = group.length - 1;
    for (const client of group) {
      const id = clientIndex++;
      const node = session.nodes.get(client) ?? 0;
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
          session.pending.set(key, { run, sentAt: performance.now(), node, remaining: receivers });
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
    crossNodeLatencies: Float64Array.from(session.crossNode),
    sameNodeLatencies: Float64Array.from(session.sameNode),
  };
}

/**
 * Convergence, checked harder than at the end of a run: every replica of a
 * document must hold the same state vector and text, and so must a fresh
 * client opened on each of the document's servers (each node's own copy of
 * the document, as a newcomer would load it). Call after a drained run.
 */
export async function verifyFanout(args: FanoutVerifyArgs): Promise<FanoutVerifyResult> {
  const session = getSession(args.group, FanoutSession);
  const mismatches: string[] = [];
  let freshClients = 0;
  const fresh: BenchClient[] = [];
  try {
    await withTimeout(
      Promise.all(
        session.documents.map(async (group, index) => {
          const replicas = group.filter((c) => c.applyRemoteUpdates);
          const first = replicas[0];
          if (!first) return;
          const expectedText = first.doc.getText("text").toString();
          const expectedVector = Buffer.from(Y.encodeStateVector(first.doc)).toString("hex");
          const describe = (who: string, doc: Y.Doc) => {
            const text = doc.getText("text").toString();
            const vector = Buffer.from(Y.encodeStateVector(doc)).toString("hex");
            if (text === expectedText && vector === expectedVector) return;
            mismatches.push(
              `document ${index}: ${who} holds ${text.length} characters (state vector ${vector}), ` +
                `the first replica ${expectedText.length} (state vector ${expectedVector})`,
            );
          };
          replicas.slice(1).forEach((client, n) => {
            describe(`replica ${n + 1} (node ${session.nodes.get(client) ?? 0})`, client.doc);
          });
          const urls = session.urls[index] ?? [];
          await Promise.all(
            urls.map(async (url, node) => {
              const client = new BenchClient(url);
              fresh.push(client);
              freshClients++;
              await client.synced;
              describe(`a fresh client on node ${node}`, client.doc);
            }),
          );
        }),
      ),
      args.timeoutMs,
      "convergence check",
    );
  } finally {
    await Promise.all(fresh.map((c) => c.close()));
  }
  return { documents: session.documents.length, freshClients, mismatches };
}
