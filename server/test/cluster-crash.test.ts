import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import type { PubSub } from "../src/pubsub/pubsub.ts";
import { RedisPubSub } from "../src/pubsub/redis.ts";
import { PostgresDocStore } from "../src/storage/postgres.ts";
import { connectProvider, startServer, whenDoc, whenSynced } from "./helpers.ts";
import { type PostgresServer, startPostgres } from "./postgres-server.ts";
import { type ServerProcess, startServerProcess } from "./process.ts";
import { type RedisServer, startRedisServer } from "./redis-server.ts";

// Cluster mode, crashes: three real server processes on one private
// PostgreSQL and one private Redis, the standard y-websocket client typing
// into one document on all three. Round after round one node gets kill -9;
// its clients go on with the same Y.Doc through a surviving node (as a load
// balancer would route them), and a replacement node joins. In the end every
// edit any client made or saw is in every client, in a fresh client, and in
// the store (a node started afterwards loads it all).
//
// PostgreSQL or Redis missing fails the file: startPostgres and
// startRedisServer throw, they never skip.
let postgres: PostgresServer | undefined;
let redis: RedisServer | undefined;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedisServer()]);
}, 60_000);
afterAll(async () => {
  await redis?.stop();
  await postgres?.stop();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function isRunning(node: ServerProcess): boolean {
  return node.child.exitCode === null && node.child.signalCode === null;
}

async function startNode(databaseUrl: string): Promise<ServerProcess> {
  if (!redis) throw new Error("the test Redis is not running");
  const node = await startServerProcess({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    LOG_LEVEL: "info",
  });
  cleanups.push(async () => {
    if (!isRunning(node)) return;
    node.child.kill("SIGKILL");
    await node.exited;
  });
  return node;
}

/** One person typing: a Y.Doc that outlives the connections it goes through. */
interface Writer {
  name: string;
  doc: Y.Doc;
  provider: WebsocketProvider;
  node: ServerProcess;
  /** Keys this writer's doc ever held: its own and those it received. */
  seen: Set<string>;
}

const DOC = "cluster-crash";
const log = (doc: Y.Doc) => doc.getMap<number>("log");

function connect(writer: Omit<Writer, "provider"> & { provider?: WebsocketProvider }): Writer {
  const { provider } = connectProvider(writer.node.wsUrl, DOC, writer.doc);
  cleanups.push(() => provider.destroy());
  return { ...writer, provider };
}

function newWriter(name: string, node: ServerProcess): Writer {
  const doc = new Y.Doc();
  const seen = new Set<string>();
  log(doc).observe((event) => {
    for (const key of event.keysChanged) seen.add(key);
  });
  return connect({ name, doc, node, seen });
}

/** Resolves once `writer` holds `count` keys written by others. */
function whenSeesOthers(writer: Writer, count: number): Promise<void> {
  const others = (doc: Y.Doc) =>
    [...log(doc).keys()].filter((key) => !key.startsWith(`${writer.name}-`)).length;
  const target = others(writer.doc) + count;
  return whenDoc(writer.doc, (doc) => others(doc) >= target);
}

/**
 * Waits for `condition`, but no longer than `ms`: the caller then asserts,
 * so a failure names what is missing instead of timing the whole test out.
 */
async function waitAtMost(ms: number, condition: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([condition, expired]);
  clearTimeout(timer);
}

function sortedStateVector(doc: Y.Doc): [number, number][] {
  return [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort(([a], [b]) => a - b);
}

describe("cluster crashes", () => {
  it("clients of a node killed with kill -9 go on through another node, round after round, and nothing is lost", async () => {
    if (!postgres) throw new Error("the test PostgreSQL is not running");
    const databaseUrl = await postgres.createDatabase();
    const nodes = await Promise.all([0, 1, 2].map(() => startNode(databaseUrl)));

    // Two writers per node.
    const writers: Writer[] = [];
    for (const [i, node] of nodes.entries()) {
      writers.push(newWriter(`w${2 * i}`, node), newWriter(`w${2 * i + 1}`, node));
    }
    await Promise.all(writers.map((w) => whenSynced(w.provider)));

    // Load, not synchronisation: each writer adds one unique key every
    // 20 ms (50 messages a second, a quarter of the default rate limit),
    // whether it is connected or not; a disconnected writer's keys travel
    // when it syncs through its next connection.
    const written = new Set<string>();
    const counters = new Map<string, number>();
    const write = (writer: Writer) => {
      const n = counters.get(writer.name) ?? 0;
      counters.set(writer.name, n + 1);
      const key = `${writer.name}-${n}`;
      written.add(key);
      log(writer.doc).set(key, n);
    };
    const timers = new Map<string, NodeJS.Timeout>();
    const startWriting = (writer: Writer) => {
      timers.set(
        writer.name,
        setInterval(() => write(writer), 20),
      );
    };
    const stopWriting = () => {
      for (const timer of timers.values()) clearInterval(timer);
      timers.clear();
    };
    cleanups.push(stopWriting);
    for (const writer of writers) startWriting(writer);
    // For the end: a node with no client until then. It opens the document
    // (reading it from PostgreSQL) only when the last check connects to it.
    const lateStarted = startNode(databaseUrl);

    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      // Edits flow across the cluster before the kill: every writer has
      // received some from the others since the last round.
      await Promise.all(writers.map((w) => whenSeesOthers(w, 30)));

      const victimIndex = round % nodes.length;
      const victim = nodes[victimIndex] as ServerProcess;
      victim.child.kill("SIGKILL");
      expect(await victim.exited).toBe("SIGKILL");
      // A replacement node starts meanwhile (it takes seconds).
      const replacementStarted = startNode(databaseUrl);
      const survivors = nodes.filter((node) => node !== victim);

      // The dead node's writers reconnect through the survivors, in turn,
      // with the same doc (they keep typing all along).
      const moved: Writer[] = [];
      for (const [i, writer] of writers.entries()) {
        if (writer.node !== victim) continue;
        writer.provider.destroy();
        const node = survivors[moved.length % survivors.length] as ServerProcess;
        const next = connect({ ...writer, node });
        writers[i] = next;
        moved.push(next);
      }
      expect(moved.length).toBeGreaterThan(0);

      await Promise.all(moved.map((w) => whenSynced(w.provider)));

      // The replacement joins, with a newcomer typing through it.
      const replacement = await replacementStarted;
      nodes[victimIndex] = replacement;
      const newcomer = newWriter(`n${round}`, replacement);
      writers.push(newcomer);
      await whenSynced(newcomer.provider);
      startWriting(newcomer);
    }

    // Once more edits have flowed after the last kill, everyone stops.
    await Promise.all(writers.map((w) => whenSeesOthers(w, 30)));
    stopWriting();
    for (const node of nodes) expect(isRunning(node)).toBe(true);

    // Every key anyone wrote or saw reaches every writer...
    const everything = new Set(written);
    for (const writer of writers) for (const key of writer.seen) everything.add(key);
    const holdsEverything = (doc: Y.Doc) => [...everything].every((key) => log(doc).has(key));
    const missingFrom = (doc: Y.Doc) => [...everything].filter((key) => !log(doc).has(key));
    await waitAtMost(15_000, Promise.all(writers.map((w) => whenDoc(w.doc, holdsEverything))));
    for (const writer of writers)
      expect({ [writer.name]: missingFrom(writer.doc) }).toEqual({ [writer.name]: [] });
    // ...and they converge: the same changes, the same content.
    const first = writers[0] as Writer;
    for (const writer of writers) {
      expect(sortedStateVector(writer.doc)).toEqual(sortedStateVector(first.doc));
      expect(log(writer.doc).toJSON()).toEqual(log(first.doc).toJSON());
    }
    expect(log(first.doc).size).toBe(everything.size);

    // A fresh client on the node that had none: it reads the document from
    // PostgreSQL now, so this checks the store itself, not a node's memory.
    const late = await lateStarted;
    expect(isRunning(late)).toBe(true);
    const fresh = connectProvider(late.wsUrl, DOC, new Y.Doc());
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    // The last edits may still be on their way into the store; whatever
    // is stored after this node read the document reaches it by relay.
    await waitAtMost(15_000, whenDoc(fresh.doc, holdsEverything));
    expect(missingFrom(fresh.doc)).toEqual([]);
    expect(sortedStateVector(fresh.doc)).toEqual(sortedStateVector(first.doc));
  }, 90_000);
});

/**
 * An in-process node whose pub/sub can be cut at a chosen moment: from then
 * on nothing it publishes reaches Redis (not even heartbeats), as if the
 * process died right after its store committed.
 */
async function startCuttableNode(databaseUrl: string) {
  if (!redis) throw new Error("the test Redis is not running");
  const real = await RedisPubSub.connect({ url: redis.url, blockMs: 1000 });
  let cut = false;
  const pubsub: PubSub = {
    nodeId: real.nodeId,
    publish: (channel, message) =>
      cut ? new Promise<void>(() => {}) : real.publish(channel, message),
    subscribe: (channel, onMessage, onGap) => real.subscribe(channel, onMessage, onGap),
    close: () => real.close(),
  };
  const running = await startServer({
    store: new PostgresDocStore(databaseUrl),
    pubsub,
    cluster: { heartbeatMs: 200, nodeTimeoutMs: 1000, subscribeTimeoutMs: 500 },
  });
  cleanups.push(async () => {
    await running.stop();
    await real.close();
  });
  return {
    ...running,
    cut() {
      cut = true;
    },
  };
}

function presenceNames(provider: WebsocketProvider): unknown[] {
  return [...provider.awareness.getStates().values()].map((state) => state.name);
}

function whenPresence(provider: WebsocketProvider, check: (names: unknown[]) => boolean) {
  return new Promise<void>((resolve) => {
    const onChange = () => {
      if (!check(presenceNames(provider))) return;
      provider.awareness.off("change", onChange);
      resolve();
    };
    provider.awareness.on("change", onChange);
    onChange();
  });
}

describe("cluster crashes, one at a time", () => {
  // A node that dies after PostgreSQL committed an update but before it
  // published it to Redis leaves that update in the store only: rooms open
  // on other nodes must catch up from the store when they notice the node
  // is gone (no relay message will ever report a gap).
  it("an update a node committed but never published before it died reaches rooms open on other nodes", async () => {
    if (!postgres) throw new Error("the test PostgreSQL is not running");
    const databaseUrl = await postgres.createDatabase();
    const doomed = await startCuttableNode(databaseUrl);
    const survivor = await startCuttableNode(databaseUrl);
    const connect = (wsUrl: string) => {
      const connected = connectProvider(wsUrl, "committed-not-published");
      cleanups.push(() => connected.provider.destroy());
      return connected;
    };
    const writer = connect(doomed.wsUrl);
    const witness = connect(doomed.wsUrl);
    const reader = connect(survivor.wsUrl);
    await Promise.all([writer, witness, reader].map((c) => whenSynced(c.provider)));
    writer.provider.awareness.setLocalStateField("name", "Writer");
    await whenPresence(reader.provider, (names) => names.includes("Writer"));

    // The node "dies" between its commit and its publish.
    doomed.cut();
    log(writer.doc).set("committed", 1);
    // Its own peers get an update only once it is durable.
    await whenDoc(witness.doc, (doc) => log(doc).has("committed"));
    writer.provider.destroy();
    witness.provider.destroy();
    // The survivor notices the node is gone: the writer's presence leaves.
    await whenPresence(reader.provider, (names) => !names.includes("Writer"));

    // The update is in the store: a node opening the document now has it.
    const later = await startCuttableNode(databaseUrl);
    const fresh = connect(later.wsUrl);
    await whenSynced(fresh.provider);
    expect(log(fresh.doc).has("committed")).toBe(true);
    // Relaying works: the fresh client's next edit reaches the reader...
    log(fresh.doc).set("after", 1);
    await whenDoc(reader.doc, (doc) => log(doc).has("after"));
    // ...and so does the committed update, read from the store.
    await waitAtMost(
      3000,
      whenDoc(reader.doc, (doc) => log(doc).has("committed")),
    );
    expect(log(reader.doc).toJSON()).toEqual(log(fresh.doc).toJSON());
  });
});
