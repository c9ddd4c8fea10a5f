/**
 * The per-connection and per-server limits (ServerLimits, and the unsaved
 * updates a connection may run ahead of the disk), each at its boundary:
 * the last frame or connection allowed, then the first refused.
 */
import {
  CLOSE_FORBIDDEN,
  CLOSE_RATE_LIMITED,
  CLOSE_TRY_AGAIN_LATER,
  decodeFrame,
  encodeFrame,
} from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { SqliteDocStore } from "../src/storage/sqlite.ts";
import {
  deferred,
  gateAppends,
  type RawClient,
  type Running,
  rawClient,
  startServer,
  tempDir,
  whenDoc,
} from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const running = await startServer(options);
  cleanups.push(() => running.stop());
  return running;
}

function client(url: string, options?: WebSocket.ClientOptions): RawClient {
  const c = rawClient(url, options);
  cleanups.push(() => c.ws.terminate());
  return c;
}

/**
 * Resolves once the server has read everything `c` sent so far: its socket
 * answers a ping as soon as it reads it, whatever the room is doing, and
 * anything the server sent on reading the earlier frames arrives first.
 */
function roundTrip(c: RawClient): Promise<void> {
  return new Promise((resolve) => {
    c.ws.once("pong", () => resolve());
    c.ws.ping();
  });
}

/** A SQLite store whose loads wait for `release()`; `loading` resolves when one starts. */
function storeWithHeldLoad() {
  const store = new SqliteDocStore(`${tempDir()}/held.db`);
  const gate = deferred();
  const started = deferred();
  const load = store.load.bind(store);
  store.load = async (docId) => {
    started.resolve();
    await gate.promise;
    return load(docId);
  };
  return { store, loading: started.promise, release: gate.resolve };
}

const queryAwareness = encodeFrame({ type: "query-awareness" });

describe("queued frames per connection", () => {
  it("closes with 4429 on the first frame past maxQueuedFrames while the room loads", async () => {
    const { store, loading, release } = storeWithHeldLoad();
    const running = await server({ store, limits: { maxQueuedFrames: 5 } });
    cleanups.push(release);
    const c = client(`${running.wsUrl}/queued`);
    await c.opened;
    await loading;
    for (let i = 0; i < 5; i++) c.ws.send(queryAwareness);
    await roundTrip(c);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.send(queryAwareness);
    expect(await c.closed).toEqual({
      code: CLOSE_RATE_LIMITED,
      reason: "too many messages queued",
    });
  });

  it("closes with 4429 on the first frame that takes the queue past maxQueuedBytes", async () => {
    const { store, loading, release } = storeWithHeldLoad();
    const running = await server({ store, limits: { maxQueuedBytes: 1000 } });
    cleanups.push(release);
    const c = client(`${running.wsUrl}/queued-bytes`);
    await c.opened;
    await loading;
    const doc = new Y.Doc();
    doc.getText("t").insert(0, "x".repeat(550));
    const big = encodeFrame({ type: "update", update: Y.encodeStateAsUpdate(doc) });
    expect(big.length).toBeGreaterThan(500);
    c.ws.send(big);
    // Small frames still fit next to it.
    for (let i = 0; i < 5; i++) c.ws.send(queryAwareness);
    await roundTrip(c);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.send(big);
    expect(await c.closed).toEqual({
      code: CLOSE_RATE_LIMITED,
      reason: "too many messages queued",
    });
  });

  it("frames queued while the room loads are handled once it is open", async () => {
    const { store, loading, release } = storeWithHeldLoad();
    const running = await server({ store, limits: { maxQueuedFrames: 5 } });
    cleanups.push(release);
    const c = client(`${running.wsUrl}/queued-ok`);
    await c.opened;
    await loading;
    for (let i = 0; i < 5; i++) c.ws.send(queryAwareness);
    release();
    for (let i = 0; i < 5; i++) await c.next((bytes) => decodeFrame(bytes).type === "awareness");
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe("unsaved updates per connection", () => {
  it("applies no more than 256 of a client's updates until the disk confirms them", async () => {
    const store = new SqliteDocStore(`${tempDir()}/ahead.db`);
    // No rate limit: the 257 updates go out in one burst.
    const running = await server({ store, limits: { maxMessagesPerSecond: 0 } });
    const c = client(`${running.wsUrl}/ahead`);
    await c.next(); // the server's step 1: the room is open
    const room = running.server.rooms.get("ahead");
    if (!room) throw new Error("room not open");
    const disk = gateAppends(store);
    cleanups.push(disk.release);
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    for (let i = 0; i < 257; i++) doc.getArray<number>("n").push([i]);
    for (const update of updates) c.ws.send(encodeFrame({ type: "update", update }));
    // The "saved" receipt: answered only once every update before it is durable.
    c.ws.send(encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) }));
    await disk.started;
    const applied = () => room.doc.getArray<number>("n").length;
    await whenDoc(room.doc, () => applied() >= 256);
    // The server has read all 257 updates and the step 1; the last update
    // waits for the first 256 to reach the disk.
    await roundTrip(c);
    expect(applied()).toBe(256);
    expect(c.messages.map((bytes) => decodeFrame(bytes).type)).not.toContain("sync-step-2");
    disk.release();
    const receipt = decodeFrame(await c.next((bytes) => decodeFrame(bytes).type === "sync-step-2"));
    if (receipt.type !== "sync-step-2") throw new Error("expected step 2");
    const saved = new Y.Doc();
    Y.applyUpdate(saved, receipt.update);
    expect(saved.getArray("n").length).toBe(257);
    expect(applied()).toBe(257);
  });
});

describe("server capacity", () => {
  it("refuses a connection past maxConnections with 1013, whatever the document", async () => {
    const running = await server({ limits: { maxConnections: 2 } });
    const a = client(`${running.wsUrl}/cap-a`);
    const b = client(`${running.wsUrl}/cap-b`);
    await Promise.all([a.next(), b.next()]);
    expect(await client(`${running.wsUrl}/cap-c`).closed).toEqual({
      code: CLOSE_TRY_AGAIN_LATER,
      reason: "server has too many connections; try again later",
    });
    expect(await client(`${running.wsUrl}/cap-a`).closed).toMatchObject({
      code: CLOSE_TRY_AGAIN_LATER,
    });
  });

  it("refuses a new document past maxOpenDocuments with 1013, but admits more clients of open ones", async () => {
    const running = await server({ limits: { maxOpenDocuments: 1 } });
    const first = client(`${running.wsUrl}/open-1`);
    await first.next();
    expect(await client(`${running.wsUrl}/open-2`).closed).toEqual({
      code: CLOSE_TRY_AGAIN_LATER,
      reason: "server has too many open documents; try again later",
    });
    await client(`${running.wsUrl}/open-1`).next();
  });

  it("refuses a connection past maxConnectionsPerDocument with 1013 and a reason", async () => {
    const running = await server({ limits: { maxConnectionsPerDocument: 1 } });
    await client(`${running.wsUrl}/per-doc`).next();
    expect(await client(`${running.wsUrl}/per-doc`).closed).toEqual({
      code: CLOSE_TRY_AGAIN_LATER,
      reason: "document has too many connections; try again later",
    });
  });
});

describe("allowed origins", () => {
  it("admits pages from a listed origin and refuses others with 4403", async () => {
    const running = await server({ allowedOrigins: ["https://app.example"] });
    await client(`${running.wsUrl}/origins`, { origin: "https://app.example" }).next();
    expect(
      await client(`${running.wsUrl}/origins`, { origin: "https://evil.example" }).closed,
    ).toEqual({ code: CLOSE_FORBIDDEN, reason: "origin not allowed" });
    // The same host on another scheme or port is another origin.
    expect(
      (await client(`${running.wsUrl}/origins`, { origin: "http://app.example" }).closed).code,
    ).toBe(CLOSE_FORBIDDEN);
  });

  it("admits pages from any origin with *", async () => {
    const running = await server({ allowedOrigins: ["*"] });
    await client(`${running.wsUrl}/anyone`, { origin: "https://anywhere.example" }).next();
  });
});
