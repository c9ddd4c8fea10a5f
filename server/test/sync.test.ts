import {
  CLOSE_BAD_FRAME,
  CLOSE_GOING_AWAY,
  CLOSE_NO_DOCUMENT,
  decodeFrame,
  encodeFrame,
} from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { MemoryDocStore } from "../src/storage/memory.ts";
import { SqliteDocStore } from "../src/storage/sqlite.ts";
import {
  connectProvider,
  deferred,
  gateAppends,
  type Running,
  rawClient,
  startServer,
  tempDir,
  whenDoc,
  whenSynced,
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

function provider(wsUrl: string, docId: string, doc?: Y.Doc) {
  const client = connectProvider(wsUrl, docId, doc);
  cleanups.push(() => client.provider.destroy());
  return client;
}

const text = (doc: Y.Doc) => doc.getText("t").toString();

describe("sync with the standard y-websocket provider", () => {
  it("an edit in one client reaches another", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "doc-a");
    const b = provider(wsUrl, "doc-a");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    a.doc.getText("t").insert(0, "hello");
    await whenDoc(b.doc, (doc) => text(doc) === "hello");
  });

  it("concurrent edits from many clients converge to the same content", async () => {
    const { wsUrl } = await server();
    const clients = Array.from({ length: 8 }, () => provider(wsUrl, "busy"));
    await Promise.all(clients.map((c) => whenSynced(c.provider)));
    clients.forEach((client, i) => {
      for (let n = 0; n < 25; n++) {
        const t = client.doc.getText("t");
        t.insert((n * 7) % (t.length + 1), String.fromCharCode(97 + i));
      }
    });
    const expectedLength = 8 * 25;
    await Promise.all(clients.map((c) => whenDoc(c.doc, (d) => text(d).length === expectedLength)));
    const first = text(clients[0]?.doc ?? new Y.Doc());
    for (const client of clients) expect(text(client.doc)).toBe(first);
    for (let i = 0; i < 8; i++) {
      expect([...first].filter((ch) => ch === String.fromCharCode(97 + i))).toHaveLength(25);
    }
  });

  it("documents are isolated from each other", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "one");
    const b = provider(wsUrl, "two");
    const a2 = provider(wsUrl, "one");
    await Promise.all([a, b, a2].map((c) => whenSynced(c.provider)));
    a.doc.getText("t").insert(0, "only in one");
    await whenDoc(a2.doc, (d) => text(d) === "only in one");
    expect(text(b.doc)).toBe("");
  });

  it("a client that edited offline merges its edits on connect", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "offline");
    await whenSynced(a.provider);
    a.doc.getText("t").insert(0, "online ");
    const offline = new Y.Doc();
    offline.getText("t").insert(0, "offline");
    const b = provider(wsUrl, "offline", offline);
    await whenDoc(a.doc, (d) => text(d).includes("offline") && text(d).includes("online"));
    await whenDoc(b.doc, (d) => text(d) === text(a.doc));
  });
});

describe("awareness", () => {
  it("a peer's presence appears for others and is removed when it disconnects", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "presence");
    const b = provider(wsUrl, "presence");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    const aId = a.doc.clientID;
    const seen = new Promise<void>((resolve) => {
      const check = () => {
        if (b.provider.awareness.getStates().get(aId)?.user?.name === "Ada") resolve();
      };
      b.provider.awareness.on("change", check);
      check();
    });
    a.provider.awareness.setLocalStateField("user", { name: "Ada" });
    await seen;
    const gone = new Promise<void>((resolve) => {
      b.provider.awareness.on("change", ({ removed }: { removed: number[] }) => {
        if (removed.includes(aId)) resolve();
      });
    });
    a.provider.disconnect();
    await gone;
    expect(b.provider.awareness.getStates().has(aId)).toBe(false);
  });

  it("standard clients echoing each other's presence stay connected", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "echo");
    const b = provider(wsUrl, "echo");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    let closes = 0;
    for (const p of [a.provider, b.provider]) p.on("connection-close", () => closes++);
    const sees = (viewer: typeof a, subject: typeof a, name: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          const state = viewer.provider.awareness.getStates().get(subject.doc.clientID);
          if (state?.user?.name === name) resolve();
        };
        viewer.provider.awareness.on("change", check);
        check();
      });
    for (let round = 0; round < 5; round++) {
      a.provider.awareness.setLocalStateField("user", { name: `A${round}` });
      await sees(b, a, `A${round}`);
      b.provider.awareness.setLocalStateField("user", { name: `B${round}` });
      await sees(a, b, `B${round}`);
    }
    // y-websocket re-sends every awareness change it receives; the server must
    // treat those echoes as harmless. A last edit round-trips on both sockets.
    a.doc.getText("t").insert(0, "still here");
    await whenDoc(b.doc, (d) => text(d) === "still here");
    expect(closes).toBe(0);
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true);
  });

  it("echoes presence to its publisher, so a lone y-websocket client hears from the server", async () => {
    const { wsUrl } = await server();
    const alone = rawClient(`${wsUrl}/lonely`);
    await alone.next();
    const doc = new Y.Doc();
    const { Awareness, encodeAwarenessUpdate } = await import("y-protocols/awareness");
    const awareness = new Awareness(doc);
    awareness.setLocalStateField("user", { name: "Solo" });
    alone.ws.send(
      encodeFrame({ type: "awareness", update: encodeAwarenessUpdate(awareness, [doc.clientID]) }),
    );
    awareness.destroy();
    const echo = decodeFrame(await alone.next((bytes) => decodeFrame(bytes).type === "awareness"));
    expect(echo.type).toBe("awareness");
  });

  it("a late joiner receives the presence of peers already there", async () => {
    const { wsUrl } = await server();
    const a = provider(wsUrl, "late");
    a.provider.awareness.setLocalStateField("user", { name: "Grace" });
    await whenSynced(a.provider);
    const b = provider(wsUrl, "late");
    await new Promise<void>((resolve) => {
      const check = () => {
        if (b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === "Grace") resolve();
      };
      b.provider.awareness.on("change", check);
      check();
    });
  });
});

describe("persistence", () => {
  it("content survives a server restart on the same data folder", async () => {
    const dir = tempDir();
    const first = await startServer({ dir });
    const a = connectProvider(first.wsUrl, "durable");
    await whenSynced(a.provider);
    a.doc.getText("t").insert(0, "keep me");
    a.doc.getText("title").insert(0, "Kept");
    // A second client seeing the edit means the server broadcast it, which it
    // does only after the update is on disk.
    const b = connectProvider(first.wsUrl, "durable");
    await whenDoc(b.doc, (d) => text(d) === "keep me" && d.getText("title").toString() === "Kept");
    a.provider.destroy();
    b.provider.destroy();
    await first.stop();

    const second = await server({ dir });
    const c = provider(second.wsUrl, "durable");
    await whenSynced(c.provider);
    expect(text(c.doc)).toBe("keep me");
    const meta = await second.store.get("durable");
    expect(meta?.title).toBe("Kept");
  });

  it("compaction keeps the stored log short and the content whole", async () => {
    const dir = tempDir();
    const running = await server({ dir, compactEvery: 20 });
    const a = provider(running.wsUrl, "compact");
    const b = provider(running.wsUrl, "compact");
    await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
    for (let i = 0; i < 300; i++) a.doc.getText("t").insert(i, "x");
    await whenDoc(b.doc, (d) => text(d).length === 300);
    const room = running.server.rooms.get("compact");
    await room?.flush();
    expect((await running.store.load("compact")).length).toBeLessThanOrEqual(21);
    const reloaded = new Y.Doc();
    for (const update of await running.store.load("compact")) Y.applyUpdate(reloaded, update);
    expect(text(reloaded)).toBe("x".repeat(300));
  });

  it("loads a document once however many clients arrive at the same moment", async () => {
    const store = new SqliteDocStore(`${tempDir()}/c.db`);
    let loads = 0;
    const load = store.load.bind(store);
    store.load = async (docId) => {
      loads++;
      return load(docId);
    };
    const running = await server({ store });
    const clients = Array.from({ length: 10 }, () => provider(running.wsUrl, "stampede"));
    await Promise.all(clients.map((c) => whenSynced(c.provider)));
    expect(loads).toBe(1);
  });

  it("answers no sync before the stored state is fully loaded", async () => {
    const store = new SqliteDocStore(`${tempDir()}/slow.db`);
    const seed = new Y.Doc();
    seed.getText("t").insert(0, "stored");
    await store.append("slow", Y.encodeStateAsUpdate(seed), { at: 1 });
    const { promise: gate, resolve: releaseLoad } = deferred();
    const { promise: loading, resolve: loadStarted } = deferred();
    const load = store.load.bind(store);
    store.load = async (docId) => {
      loadStarted();
      await gate;
      return load(docId);
    };
    const running = await server({ store });
    const client = rawClient(`${running.wsUrl}/slow`);
    cleanups.push(() => client.ws.terminate());
    await client.opened;
    await loading;
    client.ws.send(
      encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) }),
    );
    // Barrier while the load is held: the server's socket answers a ping
    // sent after the step 1 as soon as it reads it, room or no room. By the
    // pong, anything the server sent on reading the step 1 has arrived.
    const pong = new Promise<void>((resolve) => client.ws.once("pong", () => resolve()));
    client.ws.ping();
    await pong;
    expect(client.messages).toHaveLength(0);
    // Barrier after the release: a query for presence, answered only after
    // the step 1 before it. Everything up to its answer comes from the
    // loaded state.
    client.ws.send(encodeFrame({ type: "query-awareness" }));
    releaseLoad();
    await client.next((bytes) => decodeFrame(bytes).type === "awareness");
    const frames = client.messages.map((bytes) => decodeFrame(bytes));
    expect(frames.map((frame) => frame.type)).toEqual(["sync-step-1", "sync-step-2", "awareness"]);
    const [serverStep1, answer] = frames;
    if (serverStep1?.type !== "sync-step-1" || answer?.type !== "sync-step-2") {
      throw new Error("expected the server's step 1, then its step 2");
    }
    expect(serverStep1.stateVector).toEqual(Y.encodeStateVector(seed));
    const doc = new Y.Doc();
    Y.applyUpdate(doc, answer.update);
    expect(text(doc)).toBe("stored");
  });

  it("unloads a room after its last peer leaves, then reloads it from storage", async () => {
    const running = await server();
    const a = connectProvider(running.wsUrl, "evict");
    await whenSynced(a.provider);
    a.doc.getText("t").insert(0, "saved");
    const b = provider(running.wsUrl, "evict");
    await whenDoc(b.doc, (d) => text(d) === "saved");
    a.provider.destroy();
    b.provider.destroy();
    await running.server.rooms.drain();
    expect(running.server.rooms.size).toBe(0);
    const c = provider(running.wsUrl, "evict");
    await whenSynced(c.provider);
    expect(text(c.doc)).toBe("saved");
  });
});

describe("bad input", () => {
  it("closes a connection with an invalid document id with 4400 and a reason", async () => {
    const { wsUrl } = await server();
    const client = rawClient(`${wsUrl}/${"x".repeat(65)}`);
    expect(await client.closed).toEqual({ code: CLOSE_BAD_FRAME, reason: "invalid document id" });
    const bad = rawClient(`${wsUrl}/has%20space`);
    expect((await bad.closed).code).toBe(CLOSE_BAD_FRAME);
  });

  it("refuses upgrades outside /ws/<docId> with 404", async () => {
    const { url } = await server();
    const client = new WebSocket(`${url.replace("http", "ws")}/elsewhere`);
    const status = await new Promise<number | undefined>((resolve) => {
      client.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      client.on("error", () => resolve(undefined));
    });
    expect(status).toBe(404);
  });

  it("answers an upgrade with an unparsable target with 400 and stays up", async () => {
    const { url } = await server();
    const port = Number(new URL(url).port);
    const net = await import("node:net");
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () =>
        socket.write(
          "GET //[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk;
      });
      socket.on("close", () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it("answers a plain HTTP GET on the sync endpoint with 426", async () => {
    const { url } = await server();
    const res = await fetch(`${url}/ws/some-doc`);
    expect(res.status).toBe(426);
    expect((await res.json()).error.code).toBe("upgrade_required");
  });

  it.each([
    ["random bytes", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ["an unknown message type", new Uint8Array([9])],
    ["a truncated sync message", new Uint8Array([0, 2, 50, 1, 2])],
    ["an update Yjs cannot read", new Uint8Array([0, 2, 4, 200, 200, 200, 200])],
    ["trailing bytes", new Uint8Array([3, 0])],
  ])(
    "closes only the sender of %s with 4400, leaving the document and others intact",
    async (_name, bytes) => {
      const { wsUrl } = await server();
      const a = provider(wsUrl, "victim");
      await whenSynced(a.provider);
      a.doc.getText("t").insert(0, "intact");
      const b = provider(wsUrl, "victim");
      await whenDoc(b.doc, (d) => text(d) === "intact");

      const attacker = rawClient(`${wsUrl}/victim`);
      await attacker.opened;
      attacker.ws.send(bytes);
      const { code, reason } = await attacker.closed;
      expect(code).toBe(CLOSE_BAD_FRAME);
      expect(reason.length).toBeGreaterThan(0);

      a.doc.getText("t").insert(6, "!");
      await whenDoc(b.doc, (d) => text(d) === "intact!");
      expect(b.provider.wsconnected).toBe(true);
    },
  );

  it("closes on text frames with 4400", async () => {
    const { wsUrl } = await server();
    const client = rawClient(`${wsUrl}/texty`);
    await client.opened;
    client.ws.send("hello");
    expect((await client.closed).code).toBe(CLOSE_BAD_FRAME);
  });

  it("closes a client that sends an oversize message with 1009", async () => {
    const { wsUrl } = await server({ limits: { maxMessageBytes: 1024 } });
    const client = rawClient(`${wsUrl}/big`);
    await client.opened;
    client.ws.send(encodeFrame({ type: "update", update: new Uint8Array(4096) }));
    expect((await client.closed).code).toBe(1009);
  });
});

describe("lifecycle", () => {
  it("heartbeats drop a connection that stops answering pings and keep live ones", async () => {
    const { wsUrl } = await server({ heartbeatMs: 40 });
    const live = rawClient(`${wsUrl}/beat`);
    const dead = rawClient(`${wsUrl}/beat`, { autoPong: false });
    // Not waiting for the dead client's first message: it may be dropped
    // before the document has loaded, which is just as right.
    let pings = 0;
    live.ws.on("ping", () => pings++);
    await live.next();
    const { code } = await dead.closed;
    expect(code).toBe(1006); // terminated, no close frame
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    cleanups.push(() => live.ws.terminate());
  });

  it("a deleted document's lingering room turns new clients away with 4404", async () => {
    const running = await server();
    const stuck = rawClient(`${running.wsUrl}/gone`);
    await stuck.next();
    // Keep the room alive: this client never answers the close handshake.
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    expect((await fetch(`${running.url}/api/documents/gone`, { method: "DELETE" })).status).toBe(
      204,
    );
    const late = rawClient(`${running.wsUrl}/gone`);
    expect(await late.closed).toEqual({ code: CLOSE_NO_DOCUMENT, reason: "document deleted" });
    stuck.ws.terminate();
  });

  it("answers a sync step 1 only with what is already on disk", async () => {
    const store = new MemoryDocStore();
    const { started: appendStarted, release } = gateAppends(store);
    const running = await server({ store });
    const writer = provider(running.wsUrl, "durable-sync");
    await whenSynced(writer.provider);
    writer.doc.getText("t").insert(0, "not yet on disk");
    await appendStarted;
    const room = running.server.rooms.get("durable-sync");
    if (!room) throw new Error("room not open");
    const { promise: waitingForDisk, resolve: sawWait } = deferred();
    const whenDurable = room.whenDurable.bind(room);
    room.whenDurable = () => {
      sawWait();
      return whenDurable();
    };
    const reader = rawClient(`${running.wsUrl}/durable-sync`);
    cleanups.push(() => reader.ws.terminate());
    await reader.next();
    reader.ws.send(
      encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) }),
    );
    const answer = reader.next((bytes) => decodeFrame(bytes).type === "sync-step-2");
    let answered = false;
    void answer.then(() => {
      answered = true;
    });
    // Wait until the server has read the step 1 and is waiting for the
    // writer's save, which the gate still holds.
    await waitingForDisk;
    // A full round trip through the server on another socket: time enough
    // for an answer that did not wait to arrive.
    const probe = rawClient(`${running.wsUrl}/durable-sync`);
    cleanups.push(() => probe.ws.terminate());
    await probe.next();
    expect(answered).toBe(false);
    release();
    const frame = decodeFrame(await answer);
    if (frame.type !== "sync-step-2") throw new Error("expected step 2");
    const doc = new Y.Doc();
    Y.applyUpdate(doc, frame.update);
    expect(text(doc)).toBe("not yet on disk");
  });

  it("deleting a document disconnects its clients with 4404", async () => {
    const running = await server();
    const client = rawClient(`${running.wsUrl}/doomed`);
    await client.next();
    const res = await fetch(`${running.url}/api/documents/doomed`, { method: "DELETE" });
    expect(res.status).toBe(204);
    expect(await client.closed).toEqual({ code: CLOSE_NO_DOCUMENT, reason: "document deleted" });
    await running.server.rooms.drain();
    expect(await running.store.get("doomed")).toBeNull();
  });

  it("shutdown closes clients with 1001 and waits for the write in progress", async () => {
    const dir = tempDir();
    const store = new SqliteDocStore(`${dir}/cowrite.db`);
    const { started, release: finishAppend } = gateAppends(store);
    const running = await startServer({ store });
    const a = connectProvider(running.wsUrl, "bye");
    cleanups.push(() => a.provider.destroy());
    await whenSynced(a.provider);
    const closed = new Promise<number>((resolve) => {
      a.provider.ws?.addEventListener("close", (event) => resolve(event.code));
    });
    a.provider.shouldConnect = false;
    a.doc.getText("t").insert(0, "last words");
    await started;
    let stopped = false;
    const stopping = running.server.close().then(() => {
      stopped = true;
    });
    expect(await closed).toBe(CLOSE_GOING_AWAY);
    expect(stopped).toBe(false);
    finishAppend();
    await stopping;
    const doc = new Y.Doc();
    for (const update of await store.load("bye")) Y.applyUpdate(doc, update);
    expect(text(doc)).toBe("last words");
    await store.close();
  });
});
