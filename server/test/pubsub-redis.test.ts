import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { PubSub } from "../src/pubsub/pubsub.ts";
import { RedisPubSub, type RedisPubSubOptions } from "../src/pubsub/redis.ts";
import { bytes, Inbox } from "./pubsub-inbox.ts";
import { startRedisProxy, startRedisServer } from "./redis-server.ts";

// What only the Redis backend can get wrong: gaps from trimming and from a
// Redis restart, against a real redis-server.
describe("RedisPubSub", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function server() {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    return redis;
  }
  async function node(options: RedisPubSubOptions): Promise<PubSub> {
    const pubsub = await RedisPubSub.connect(options);
    cleanups.push(() => pubsub.close());
    return pubsub;
  }

  it("a reader that falls behind past the trimmed backlog is told of the gap, then reads on", async () => {
    const redis = await server();
    const proxy = await startRedisProxy(redis.port);
    cleanups.push(() => proxy.close());
    const a = await node({ url: redis.url, nodeId: "a", maxLength: 10 });
    // b reads through a proxy that can hold Redis's replies back.
    const b = await node({ url: proxy.url, nodeId: "b" });
    const inbox = new Inbox();
    await b.subscribe("doc", inbox.onMessage, inbox.onGap);
    await a.publish("doc", bytes("first"));
    await inbox.received("first");
    expect(inbox.gaps).toBe(0);

    proxy.pause();
    // MAXLEN ~ trims whole stream nodes (100 entries each by default), so
    // 300 messages leave the first ones gone however the nodes fall.
    for (let i = 0; i < 300; i++) await a.publish("doc", bytes(`m${i}`));
    proxy.resume();
    await inbox.until((it) => it.gaps > 0);
    await a.publish("doc", bytes("after"));
    await inbox.received("after");
    expect(inbox.gaps).toBe(1);
    // m0 answered the read already waiting in Redis (held in the proxy);
    // the next read found m1 and after trimmed away.
    expect(inbox.texts).not.toContain("m1");
    // What survived the trimming still arrives, in order.
    const numbers = inbox.texts
      .filter((text) => /^m\d+$/.test(text))
      .map((t) => Number(t.slice(1)));
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
    expect(numbers.at(-1)).toBe(299);
  });

  it("a Redis restart is a gap: subscribers hear of it and delivery resumes", async () => {
    const redis = await server();
    const errors: Error[] = [];
    const onError = (error: Error) => errors.push(error);
    const a = await node({ url: redis.url, nodeId: "a", onError });
    const b = await node({ url: redis.url, nodeId: "b", onError });
    const inbox = new Inbox();
    await b.subscribe("doc", inbox.onMessage, inbox.onGap);
    await a.publish("doc", bytes("before"));
    await inbox.received("before");

    await redis.stop();
    // Nothing is queued while Redis is away: publish fails at once.
    await expect(a.publish("doc", bytes("while down"))).rejects.toThrow();
    await redis.start();
    await inbox.until((it) => it.gaps > 0);
    expect(errors.length).toBeGreaterThan(0);

    // a's own connection reconnects on its own schedule; until then its
    // publishes fail, as the contract says, and the caller retries.
    await publishOnceAccepted(a, "doc", bytes("after"));
    await inbox.received("after");
    expect(inbox.texts).toEqual(["before", "after"]);
    expect(inbox.gaps).toBe(1);
  });

  it("a publish on a connection that died silently fails once the reader notices", async () => {
    const redis = await server();
    const proxy = await startRedisProxy(redis.port);
    cleanups.push(() => proxy.close());
    const a = await node({ url: proxy.url, nodeId: "a", blockMs: 200, silenceTimeoutMs: 1000 });
    await a.subscribe(
      "doc",
      () => {},
      () => {},
    );
    await a.publish("doc", bytes("before"));
    // No reset, no answer: without help the publish would wait for TCP to
    // give up (minutes), and its caller could not make up for it.
    proxy.freeze();
    await expect(a.publish("doc", bytes("lost"))).rejects.toThrow();
  });

  it("close completes while Redis is unreachable", async () => {
    const redis = await server();
    const a = await RedisPubSub.connect({ url: redis.url, nodeId: "a", onError: () => {} });
    const inbox = new Inbox();
    await a.subscribe("doc", inbox.onMessage, inbox.onGap);
    await redis.stop();
    await a.close();
  });

  it("redis-server that cannot start fails loudly", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(startRedisServer()).rejects.toThrow(/redis-server could not start/);
    } finally {
      process.env.PATH = path;
    }
  });
});

/** Publishes, retrying while the publisher's connection is still reconnecting. */
async function publishOnceAccepted(node: PubSub, channel: string, message: Uint8Array) {
  for (let attempt = 0; ; attempt++) {
    try {
      await node.publish(channel, message);
      return;
    } catch (error) {
      if (attempt > 100) throw error;
      // A retry interval, not synchronisation: the test awaits the message itself.
      await delay(50);
    }
  }
}
