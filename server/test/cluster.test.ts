import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { HttpSocket } from "../../client/src/http-socket.ts";
import {
  type ConnectionState,
  CowriteProvider,
  type WebSocketConstructor,
} from "../../client/src/provider.ts";
import { RedisPubSub } from "../src/pubsub/redis.ts";
import { PostgresDocStore } from "../src/storage/postgres.ts";
import {
  connectProvider,
  freePort,
  type Running,
  startServer,
  whenDoc,
  whenSynced,
} from "./helpers.ts";
import { type PostgresServer, startPostgres } from "./postgres-server.ts";
import { type RedisServer, startRedisProxy, startRedisServer } from "./redis-server.ts";

// Cluster mode in one process: several real servers ("nodes"), each with
// its own PostgreSQL pool and Redis connections, on one private PostgreSQL
// and one private Redis, with the standard y-websocket client.
let postgres: PostgresServer | undefined;
let redis: RedisServer | undefined;
beforeAll(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedisServer()]);
}, 60_000);
afterAll(async () => {
  await redis?.stop();
  await postgres?.stop();
});

interface Node extends Running {
  pubsub: RedisPubSub;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(
  databaseUrl: string,
  redisUrl = redis?.url,
  { advertise = false } = {},
): Promise<Node> {
  if (!redisUrl) throw new Error("the test Redis is not running");
  const pubsub = await RedisPubSub.connect({ url: redisUrl, blockMs: 1000 });
  // A node that advertises its URL must know its port before it starts.
  const port = advertise ? await freePort() : 0;
  const running = await startServer({
    store: new PostgresDocStore(databaseUrl),
    pubsub,
    port,
    cluster: {
      heartbeatMs: 200,
      nodeTimeoutMs: 1000,
      subscribeTimeoutMs: 500,
      maxRelayedUpdateBytes: 4096,
      ...(advertise ? { advertiseUrl: `http://127.0.0.1:${port}` } : {}),
    },
  });
  let stopped = false;
  const node: Node = {
    ...running,
    pubsub,
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.stop();
      await pubsub.close();
    },
  };
  cleanups.push(() => node.stop());
  return node;
}

async function startCluster(count: number): Promise<{ nodes: Node[]; databaseUrl: string }> {
  if (!postgres) throw new Error("the test PostgreSQL is not running");
  const databaseUrl = await postgres.createDatabase();
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) nodes.push(await startNode(databaseUrl));
  return { nodes, databaseUrl };
}

function client(node: Node, docId: string, doc = new Y.Doc()) {
  const connected = connectProvider(node.wsUrl, docId, doc);
  cleanups.push(() => connected.provider.destroy());
  return connected;
}

const text = (doc: Y.Doc) => doc.getText("t").toString();

/** Resolves once every doc has the same text, containing each of `words`. */
async function converge(docs: Y.Doc[], words: string[]): Promise<void> {
  const done = (doc: Y.Doc) => words.every((word) => text(doc).includes(word));
  await Promise.all(docs.map((doc) => whenDoc(doc, done)));
  const first = text(docs[0] as Y.Doc);
  for (const doc of docs) expect(text(doc)).toBe(first);
}

function whenPresence(
  provider: WebsocketProvider,
  check: (states: Map<number, Record<string, unknown>>) => boolean,
): Promise<void> {
  const states = () => provider.awareness.getStates() as Map<number, Record<string, unknown>>;
  if (check(states())) return Promise.resolve();
  return new Promise((resolve) => {
    const onChange = () => {
      if (!check(states())) return;
      provider.awareness.off("change", onChange);
      resolve();
    };
    provider.awareness.on("change", onChange);
  });
}

const names = (states: Map<number, Record<string, unknown>>) =>
  [...states.values()].map((state) => state.name).filter(Boolean);

describe("cluster", () => {
  it("clients of one document on three nodes converge, each seeing the others' edits", async () => {
    const { nodes } = await startCluster(3);
    const clients = nodes.flatMap((node) => [client(node, "shared"), client(node, "shared")]);
    await Promise.all(clients.map(({ provider }) => whenSynced(provider)));
    const words = clients.map((_, i) => `word${i}`);
    clients.forEach(({ doc }, i) => {
      doc.getText("t").insert(0, `${words[i]} `);
    });
    await converge(
      clients.map(({ doc }) => doc),
      words,
    );
    // A late joiner on any node reads it all from the store.
    const late = client(nodes[2] as Node, "shared");
    await whenSynced(late.provider);
    await converge([clients[0]?.doc as Y.Doc, late.doc], words);
    await expect
      .poll(async () =>
        metricValue(
          await (await fetch(`${nodes[0]?.url}/metrics`)).text(),
          "cowrite_cluster_nodes",
        ),
      )
      .toBe(3);
  });

  it("an HTTP fallback client whose requests alternate between nodes (no sticky routing) stays connected", async () => {
    if (!postgres) throw new Error("the test PostgreSQL is not running");
    const databaseUrl = await postgres.createDatabase();
    const a = await startNode(databaseUrl, redis?.url, { advertise: true });
    const b = await startNode(databaseUrl, redis?.url, { advertise: true });
    // Each node has heard the other's heartbeat (and with it, its URL).
    for (const node of [a, b]) {
      await expect
        .poll(async () =>
          metricValue(await (await fetch(`${node.url}/metrics`)).text(), "cowrite_cluster_nodes"),
        )
        .toBe(2);
    }
    const onA = client(a, "no-sticky");
    await whenSynced(onA.provider);
    // A load balancer without affinity: every request goes to the next node.
    let turn = 0;
    const roundRobin: typeof fetch = (input, init) => {
      const node = turn++ % 2 === 0 ? a : b;
      const url = new URL(String(input));
      return fetch(`${node.url}${url.pathname}${url.search}`, init);
    };
    class BalancedSocket extends HttpSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols, { fetch: roundRobin });
      }
    }
    const doc = new Y.Doc();
    const http = new CowriteProvider({
      url: b.wsUrl,
      docId: "no-sticky",
      doc,
      WebSocketImpl: BalancedSocket as unknown as WebSocketConstructor,
      windowTarget: null,
      documentTarget: null,
      isOnline: () => true,
      saveProbeDelayMs: 10,
    });
    cleanups.push(() => http.destroy());
    const states: ConnectionState["status"][] = [];
    http.on("connection", (state) => states.push(state.status));
    await new Promise<void>((resolve) => {
      if (http.synced) resolve();
      else http.on("sync", (synced) => synced && resolve());
    });
    doc.getText("t").insert(0, "over HTTP via two nodes");
    await whenDoc(onA.doc, (d) => text(d) === "over HTTP via two nodes");
    onA.doc.getText("t").insert(0, "and back: ");
    await whenDoc(doc, (d) => text(d) === "and back: over HTTP via two nodes");
    await new Promise<void>((resolve) => {
      if (http.saved === "saved") resolve();
      else http.on("saved", (state) => state === "saved" && resolve());
    });
    // Many requests went to the node that does not hold the session, and
    // none of them dropped the connection.
    expect(turn).toBeGreaterThan(6);
    expect(states.filter((status) => status === "reconnecting")).toEqual([]);
  });

  it("an update too large to relay reaches the other nodes through the store", async () => {
    const { nodes } = await startCluster(2);
    const a = client(nodes[0] as Node, "big");
    const b = client(nodes[1] as Node, "big");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    const paste = `big-${"x".repeat(10_000)}`;
    a.doc.getText("t").insert(0, paste);
    await converge([a.doc, b.doc], [paste]);
    const metrics = await (await fetch(`${nodes[1]?.url}/metrics`)).text();
    expect(metricValue(metrics, "cowrite_relay_catch_ups_total")).toBe(1);
  });

  it("presence crosses nodes, and leaves when its client leaves", async () => {
    const { nodes, databaseUrl } = await startCluster(2);
    const alice = client(nodes[0] as Node, "presence");
    const bob = client(nodes[1] as Node, "presence");
    await Promise.all([whenSynced(alice.provider), whenSynced(bob.provider)]);
    alice.provider.awareness.setLocalStateField("name", "Alice");
    bob.provider.awareness.setLocalStateField("name", "Bob");
    await whenPresence(alice.provider, (states) => names(states).includes("Bob"));
    await whenPresence(bob.provider, (states) => names(states).includes("Alice"));
    // A client arriving later on a third node sees both at once.
    const carol = client(await startNode(databaseUrl), "presence");
    await whenPresence(
      carol.provider,
      (states) => names(states).includes("Alice") && names(states).includes("Bob"),
    );
    bob.provider.destroy();
    await whenPresence(alice.provider, (states) => !names(states).includes("Bob"));
    await whenPresence(carol.provider, (states) => !names(states).includes("Bob"));
  });

  it("the presence of a node that stops answering leaves within seconds", async () => {
    const { nodes } = await startCluster(2);
    const alice = client(nodes[0] as Node, "dead-node");
    const bob = client(nodes[1] as Node, "dead-node");
    await Promise.all([whenSynced(alice.provider), whenSynced(bob.provider)]);
    bob.provider.awareness.setLocalStateField("name", "Bob");
    await whenPresence(alice.provider, (states) => names(states).includes("Bob"));
    // The node vanishes without a goodbye: its Redis connections drop, its
    // clients stay connected to it (a hung process, as far as others know).
    const bobsNode = nodes[1] as Node;
    await bobsNode.pubsub.close();
    const started = performance.now();
    await whenPresence(alice.provider, (states) => !names(states).includes("Bob"));
    // nodeTimeoutMs is 1 s here, heartbeats every 200 ms.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("a delete on one node closes the document's clients on every node with 4404", async () => {
    const { nodes } = await startCluster(2);
    const created = await fetch(`${nodes[0]?.url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "doomed", title: "Doomed" }),
    });
    expect(created.status).toBe(201);
    const far = client(nodes[1] as Node, "doomed");
    await whenSynced(far.provider);
    const closed = new Promise<number>((resolve) => {
      far.provider.on("connection-close", (event: CloseEvent | null) => resolve(event?.code ?? 0));
    });
    const deleted = await fetch(`${nodes[0]?.url}/api/documents/doomed`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect(await closed).toBe(4404);
  });

  it("a node that missed a delete while cut off from Redis finds out when it catches up", async () => {
    const { nodes, databaseUrl } = await startCluster(1);
    const proxy = await startRedisProxy(redis?.port ?? 0);
    cleanups.push(() => proxy.close());
    const far = await startNode(databaseUrl, proxy.url);
    const created = await fetch(`${nodes[0]?.url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "missed-delete", title: "Secret" }),
    });
    expect(created.status).toBe(201);
    const reader = client(far, "missed-delete");
    await whenSynced(reader.provider);
    const closed = new Promise<number>((resolve) => {
      reader.provider.on("connection-close", (event: CloseEvent | null) =>
        resolve(event?.code ?? 0),
      );
    });
    proxy.cut();
    const deleted = await fetch(`${nodes[0]?.url}/api/documents/missed-delete`, {
      method: "DELETE",
    });
    expect(deleted.status).toBe(204);
    proxy.restore();
    // The announcement is long gone; the catch-up after the gap sees the
    // document missing from the store and closes its clients as deleted.
    expect(await closed).toBe(4404);
  });

  it("a node cut off from Redis for longer than the node timeout comes back whole", async () => {
    const { nodes, databaseUrl } = await startCluster(1);
    const proxy = await startRedisProxy(redis?.port ?? 0);
    cleanups.push(() => proxy.close());
    const far = await startNode(databaseUrl, proxy.url);
    const a = client(nodes[0] as Node, "partition");
    const b = client(far, "partition");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    a.provider.awareness.setLocalStateField("name", "Alice");
    b.provider.awareness.setLocalStateField("name", "Bob");
    await whenPresence(a.provider, (states) => names(states).includes("Bob"));
    await whenPresence(b.provider, (states) => names(states).includes("Alice"));
    const since = performance.now();
    proxy.cut();
    // Each node takes the other for gone (1 s here): presence leaves.
    await whenPresence(a.provider, (states) => !names(states).includes("Bob"));
    await whenPresence(b.provider, (states) => !names(states).includes("Alice"));
    a.doc.getText("t").insert(0, "left ");
    b.doc.getText("t").insert(0, "right ");
    proxy.restore();
    await converge([a.doc, b.doc], ["left", "right"]);
    // Presence is back both ways, re-sent by the nodes, not by the clients'
    // renewals (y-websocket renews every 15 s).
    await whenPresence(a.provider, (states) => names(states).includes("Bob"));
    await whenPresence(b.provider, (states) => names(states).includes("Alice"));
    expect(performance.now() - since).toBeLessThan(14_000);
  });

  it("a node that missed relay messages catches up from the store", async () => {
    const { nodes } = await startCluster(2);
    const a = client(nodes[0] as Node, "gap");
    const b = client(nodes[1] as Node, "gap");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    a.doc.getText("t").insert(0, "one ");
    await converge([a.doc, b.doc], ["one"]);
    // Redis restarts empty: node B's subscription reports a gap, and node
    // A's publishes fail meanwhile (the edit is saved regardless).
    await redis?.stop();
    a.doc.getText("t").insert(0, "two ");
    b.doc.getText("t").insert(0, "three ");
    // Each node still serves its own clients, documents it had not open
    // included, and saves their edits.
    const lateA = client(nodes[0] as Node, "opened-without-redis");
    const lateB = client(nodes[1] as Node, "opened-without-redis");
    await Promise.all([whenSynced(lateA.provider), whenSynced(lateB.provider)]);
    lateA.doc.getText("t").insert(0, "alpha ");
    lateB.doc.getText("t").insert(0, "beta ");
    await redis?.start();
    a.doc.getText("t").insert(0, "four ");
    await converge([a.doc, b.doc], ["one", "two", "three", "four"]);
    await converge([lateA.doc, lateB.doc], ["alpha", "beta"]);
    // Operators see it: relays that failed and catch-ups that made up for them.
    const metrics = await (await fetch(`${nodes[1]?.url}/metrics`)).text();
    expect(metricValue(metrics, "cowrite_relay_catch_ups_total")).toBeGreaterThan(0);
    expect(metricValue(metrics, "cowrite_relay_failures_total")).toBeGreaterThan(0);
  });

  it("a document opened while its node cannot reach Redis catches up once subscribed", async () => {
    const { nodes, databaseUrl } = await startCluster(1);
    const proxy = await startRedisProxy(redis?.port ?? 0);
    cleanups.push(() => proxy.close());
    const far = await startNode(databaseUrl, proxy.url);
    const a = client(nodes[0] as Node, "late-subscription");
    await whenSynced(a.provider);
    // A witness on the channel, to know when node A has relayed an edit.
    const witness = await RedisPubSub.connect({ url: redis?.url ?? "" });
    cleanups.push(() => witness.close());
    const relayed: Uint8Array[] = [];
    let onRelayed = () => {};
    await witness.subscribe(
      "doc:late-subscription",
      (message) => {
        relayed.push(message);
        onRelayed();
      },
      () => {},
    );
    proxy.cut();
    // Opens without its subscription.
    const b = client(far, "late-subscription");
    await whenSynced(b.provider);
    const before = relayed.length;
    await new Promise<void>((resolve) => {
      onRelayed = () => {
        if (relayed.length > before) resolve();
      };
      a.doc.getText("t").insert(0, "missed ");
    });
    proxy.restore();
    await converge([a.doc, b.doc], ["missed"]);
  });

  it("with PostgreSQL down, nothing is acknowledged or relayed; all resumes and converges", async () => {
    const { nodes } = await startCluster(2);
    const a = client(nodes[0] as Node, "outage");
    const b = client(nodes[1] as Node, "outage");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    a.doc.getText("t").insert(0, "before ");
    await converge([a.doc, b.doc], ["before"]);
    await postgres?.pause();
    try {
      a.doc.getText("t").insert(0, "during-a ");
      b.doc.getText("t").insert(0, "during-b ");
      // Readiness says so while the edits wait for the database.
      await expect
        .poll(async () => (await fetch(`${nodes[0]?.url}/readyz`)).status, { timeout: 10_000 })
        .toBe(503);
      // Not durable, so not relayed: the other side has not seen them.
      expect(text(b.doc)).not.toContain("during-a");
      expect(text(a.doc)).not.toContain("during-b");
    } finally {
      await postgres?.resume();
    }
    a.doc.getText("t").insert(0, "after ");
    await converge([a.doc, b.doc], ["before", "during-a", "during-b", "after"]);
    await expect
      .poll(async () => (await fetch(`${nodes[0]?.url}/readyz`)).status, { timeout: 10_000 })
      .toBe(200);
    // And it is all in the store: a fresh client reads it on either node.
    const fresh = client(nodes[1] as Node, "outage");
    await whenSynced(fresh.provider);
    await converge([a.doc, fresh.doc], ["before", "during-a", "during-b", "after"]);
  });

  it("a node added mid-edit serves the document at once and relays both ways", async () => {
    const { nodes, databaseUrl } = await startCluster(2);
    const a = client(nodes[0] as Node, "grow");
    const b = client(nodes[1] as Node, "grow");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    let typing = true;
    const typed: string[] = [];
    const typer = (async () => {
      for (let i = 0; typing; i++) {
        const word = `w${i}`;
        typed.push(word);
        (i % 2 ? a : b).doc.getText("t").insert(0, `${word} `);
        await new Promise((resolve) => setImmediate(resolve));
        await whenDoc((i % 2 ? b : a).doc, (doc) => text(doc).includes(word));
      }
    })();
    const third = await startNode(databaseUrl);
    const c = client(third, "grow");
    await whenSynced(c.provider);
    c.doc.getText("t").insert(0, "from-c ");
    await whenDoc(a.doc, (doc) => text(doc).includes("from-c"));
    typing = false;
    await typer;
    await converge([a.doc, b.doc, c.doc], [...typed, "from-c"]);
  });
});

function metricValue(exposition: string, name: string): number {
  const line = exposition.split("\n").find((entry) => entry.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}
