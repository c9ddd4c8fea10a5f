import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MemoryBus, MemoryPubSub } from "../src/pubsub/memory.ts";
import { type PubSub, PubSubClosedError } from "../src/pubsub/pubsub.ts";
import { RedisPubSub } from "../src/pubsub/redis.ts";
import { bytes, Inbox } from "./pubsub-inbox.ts";
import { type RedisServer, startRedisServer } from "./redis-server.ts";

// The one definition of the PubSub seam: every promise of the contract in
// pubsub/pubsub.ts has a test here, run on every implementation. `cluster()`
// makes an empty bus and returns how to join it as a new node.
let redis: RedisServer | null = null;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const implementations: [string, () => (nodeId: string) => Promise<PubSub>][] = [
  [
    "MemoryPubSub",
    () => {
      const bus = new MemoryBus();
      return async (nodeId) => new MemoryPubSub(bus, nodeId);
    },
  ],
  [
    "RedisPubSub",
    () => async (nodeId) => {
      if (!redis) throw new Error("redis-server did not start");
      return RedisPubSub.connect({ url: redis.url, nodeId, blockMs: 2000 });
    },
  ],
];

let channels = 0;
/** A channel no other test uses (the Redis server is shared by the file). */
function freshChannel(): string {
  channels += 1;
  return `doc-${process.pid}-${Date.now()}-${channels}`;
}

describe.each(implementations)("%s fulfils the PubSub contract", (_name, cluster) => {
  const nodes: PubSub[] = [];
  /** Two or more nodes on one fresh bus. */
  async function join(...ids: string[]): Promise<PubSub[]> {
    const on = cluster();
    const joined = await Promise.all(ids.map((id) => on(id)));
    nodes.push(...joined);
    return joined;
  }
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.close();
  });

  it("delivers a message to other nodes, with the sender's node id", async () => {
    const [a, b, c] = await join("a", "b", "c");
    if (!a || !b || !c) throw new Error("nodes");
    const channel = freshChannel();
    const atB = new Inbox();
    const atC = new Inbox();
    await b.subscribe(channel, atB.onMessage, atB.onGap);
    await c.subscribe(channel, atC.onMessage, atC.onGap);
    await a.publish(channel, bytes("hello"));
    await atB.received("hello");
    await atC.received("hello");
    expect(a.nodeId).toBe("a");
    expect(atB.messages).toEqual([{ text: "hello", from: "a" }]);
    expect(atC.messages).toEqual([{ text: "hello", from: "a" }]);
  });

  it("delivers any bytes intact, and the publisher may reuse its buffer", async () => {
    const [a, b] = await join("a", "b");
    if (!a || !b) throw new Error("nodes");
    const channel = freshChannel();
    const received: Uint8Array[] = [];
    const inbox = new Inbox();
    await b.subscribe(
      channel,
      (message, from) => {
        received.push(message);
        inbox.onMessage(message, from);
      },
      inbox.onGap,
    );
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    await a.publish(channel, every);
    every.fill(0);
    await a.publish(channel, bytes("end"));
    await inbox.received("end");
    expect(received[0]).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
  });

  it("never delivers a node's own messages back to it", async () => {
    const [a, b] = await join("a", "b");
    if (!a || !b) throw new Error("nodes");
    const channel = freshChannel();
    const atA = new Inbox();
    await a.subscribe(channel, atA.onMessage, atA.onGap);
    await a.publish(channel, bytes("own"));
    await b.publish(channel, bytes("other"));
    // Per-channel order: had "own" been delivered, it would be here first.
    await atA.received("other");
    expect(atA.messages).toEqual([{ text: "other", from: "b" }]);
  });

  it("keeps each channel's messages in publish order, and channels apart", async () => {
    const [a, b, c] = await join("a", "b", "c");
    if (!a || !b || !c) throw new Error("nodes");
    const one = freshChannel();
    const two = freshChannel();
    const atOne = new Inbox();
    const atTwo = new Inbox();
    await c.subscribe(one, atOne.onMessage, atOne.onGap);
    await c.subscribe(two, atTwo.onMessage, atTwo.onGap);
    const fromA = Array.from({ length: 50 }, (_, i) => `a${i}`);
    const fromB = Array.from({ length: 50 }, (_, i) => `b${i}`);
    // Not awaited one by one: the order of the calls is what counts.
    await Promise.all([
      ...fromA.map((text) => a.publish(one, bytes(text))),
      ...fromB.map((text) => b.publish(one, bytes(text))),
      b.publish(two, bytes("only on two")),
    ]);
    await atOne.until((inbox) => inbox.messages.length === 100);
    await atTwo.received("only on two");
    expect(atOne.texts.filter((text) => text.startsWith("a"))).toEqual(fromA);
    expect(atOne.texts.filter((text) => text.startsWith("b"))).toEqual(fromB);
    expect(atTwo.texts).toEqual(["only on two"]);
    expect(atOne.gaps + atTwo.gaps).toBe(0);
  });

  it("a resolved subscribe sees every message published after it", async () => {
    const [a, b] = await join("a", "b");
    if (!a || !b) throw new Error("nodes");
    // Subscribe, then publish at once, on many fresh channels: a
    // subscription that went live late would miss the first message.
    const inboxes = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const channel = freshChannel();
        const inbox = new Inbox();
        await b.subscribe(channel, inbox.onMessage, inbox.onGap);
        await a.publish(channel, bytes("first"));
        await a.publish(channel, bytes("second"));
        return inbox;
      }),
    );
    for (const inbox of inboxes) {
      await inbox.until((it) => it.messages.length === 2);
      expect(inbox.texts).toEqual(["first", "second"]);
      expect(inbox.gaps).toBe(0);
    }
  });

  it("unsubscribe stops delivery to that subscription only", async () => {
    const [a, b] = await join("a", "b");
    if (!a || !b) throw new Error("nodes");
    const channel = freshChannel();
    const leaving = new Inbox();
    const staying = new Inbox();
    const unsubscribe = await b.subscribe(channel, leaving.onMessage, leaving.onGap);
    await b.subscribe(channel, staying.onMessage, staying.onGap);
    await a.publish(channel, bytes("before"));
    await leaving.received("before");
    await staying.received("before");
    await unsubscribe();
    await a.publish(channel, bytes("after"));
    // Both subscriptions are served in the same order on one node.
    await staying.received("after");
    expect(leaving.texts).toEqual(["before"]);
  });

  it("close ends subscriptions; publish and subscribe then reject", async () => {
    const [a, b, c] = await join("a", "b", "c");
    if (!a || !b || !c) throw new Error("nodes");
    const channel = freshChannel();
    const atB = new Inbox();
    const atC = new Inbox();
    await b.subscribe(channel, atB.onMessage, atB.onGap);
    await c.subscribe(channel, atC.onMessage, atC.onGap);
    await b.close();
    await a.publish(channel, bytes("after close"));
    await atC.received("after close");
    expect(atB.messages).toEqual([]);
    await expect(b.publish(channel, bytes("x"))).rejects.toThrow(PubSubClosedError);
    await expect(b.subscribe(channel, atB.onMessage, atB.onGap)).rejects.toThrow(PubSubClosedError);
    await b.close();
  });
});
