/**
 * The shared connection (PROTOCOL.md §8) against a real server: one socket,
 * a channel per document, each admitted and served like a socket of its own.
 */
import {
  CLOSE_BAD_FRAME,
  CLOSE_FORBIDDEN,
  CLOSE_NORMAL,
  CLOSE_TRY_AGAIN_LATER,
  decodeFrame,
  decodeMuxMessage,
  encodeFrame,
  encodeMuxMessage,
  MUX_SUBPROTOCOL,
  type MuxMessage,
} from "@cowrite/shared";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { HttpSocket } from "../../client/src/http-socket.ts";
import { CowriteProvider, type WebSocketConstructor } from "../../client/src/provider.ts";
import { SharedConnection } from "../../client/src/shared-connection.ts";
import { createTokenAuth, mintToken } from "../src/auth.ts";
import {
  connectProvider,
  fetchJson,
  type Running,
  rawClient,
  serverStarter,
  startServer,
  useCleanups,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const SECRET = "shared-secret-shared-secret-shared-42";
const defer = useCleanups();

const server = serverStarter(defer);

async function sharedClient(running: Running) {
  const client = rawClient(running.wsUrl, {}, [MUX_SUBPROTOCOL]);
  defer(() => client.ws.terminate());
  await client.opened;
  const send = (message: MuxMessage) => client.ws.send(encodeMuxMessage(message));
  const next = (match: (message: MuxMessage) => boolean) =>
    client.next((bytes) => match(decodeMuxMessage(bytes))).then(decodeMuxMessage);
  return { client, send, next };
}

function isChannel(channel: number, type: MuxMessage["type"]) {
  return (message: MuxMessage) => message.channel === channel && message.type === type;
}

/** A document's text as its store holds it. */
async function storedText(running: Running, docId: string): Promise<string> {
  const doc = new Y.Doc();
  const stored = await running.store.load(docId);
  for (const update of stored) Y.applyUpdate(doc, update);
  return doc.getText("t").toString();
}

/** CowriteProviders for `docIds` on `shared`, resolved once every one has synced. */
async function sharedProviders(
  running: Running,
  shared: SharedConnection,
  docIds: string[],
): Promise<CowriteProvider[]> {
  const providers = docIds.map((docId) => {
    const provider = new CowriteProvider({
      url: running.wsUrl,
      docId,
      doc: new Y.Doc(),
      WebSocketImpl: shared.WebSocketImpl,
      windowTarget: null,
      documentTarget: null,
      saveProbeDelayMs: 10,
    });
    defer(() => provider.destroy());
    return provider;
  });
  await Promise.all(
    providers.map(
      (provider) =>
        new Promise<void>((resolve) => {
          if (provider.synced) resolve();
          else provider.on("sync", (synced) => synced && resolve());
        }),
    ),
  );
  return providers;
}

describe("shared connection", () => {
  it("selects the mux subprotocol, and answers /ws without it with 400", async () => {
    const running = await server();
    const { client } = await sharedClient(running);
    await client.opened;
    expect(client.ws.protocol).toBe(MUX_SUBPROTOCOL);
    const plain = rawClient(running.wsUrl);
    await expect(plain.opened).rejects.toThrow(/400/);
  });

  it("refuses a shared socket from another site (403) and beyond the connection limit (503)", async () => {
    const running = await server({ limits: { maxConnections: 1 } });
    const foreign = rawClient(running.wsUrl, { origin: "https://evil.example" }, [MUX_SUBPROTOCOL]);
    await expect(foreign.opened).rejects.toThrow(/403/);
    const first = await sharedClient(running);
    expect(first.client.ws.readyState).toBe(WebSocket.OPEN);
    const second = rawClient(running.wsUrl, {}, [MUX_SUBPROTOCOL]);
    await expect(second.opened).rejects.toThrow(/503/);
  });

  it("carries two documents on one socket, each synced and saved on its own", async () => {
    const running = await server();
    const { send, next } = await sharedClient(running);
    send({ type: "open", channel: 1, docId: "first", token: "" });
    send({ type: "open", channel: 2, docId: "second", token: "" });
    for (const channel of [1, 2]) {
      const step1 = await next(isChannel(channel, "data"));
      expect(step1.type === "data" && decodeFrame(step1.frame).type).toBe("sync-step-1");
    }
    const writer = new Y.Doc();
    writer.getText("t").insert(0, "only in the second");
    send({
      type: "data",
      channel: 2,
      frame: encodeFrame({ type: "update", update: Y.encodeStateAsUpdate(writer) }),
    });
    // The saved receipt: a step 1 is answered once the update is durable.
    send({
      type: "data",
      channel: 2,
      frame: encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) }),
    });
    await next(
      (message) =>
        message.channel === 2 &&
        message.type === "data" &&
        decodeFrame(message.frame).type === "sync-step-2",
    );
    expect(await storedText(running, "second")).toBe("only in the second");
    expect(await storedText(running, "first")).toBe("");

    const stats = await fetchJson(running.url, "/api/stats?doc=second");
    expect(stats.body).toMatchObject({ connections: 2, sockets: 1, doc: { connections: 1 } });
  });

  it("sends a y-websocket client's edits to a channel and back", async () => {
    const running = await server();
    const { send, next } = await sharedClient(running);
    const stock = connectProvider(running.wsUrl, "mixed");
    defer(() => stock.provider.destroy());
    await whenSynced(stock.provider);
    send({ type: "open", channel: 7, docId: "mixed", token: "" });
    await next(isChannel(7, "data"));
    stock.doc.getText("t").insert(0, "from y-websocket");
    const relayed = await next(
      (message) =>
        message.channel === 7 &&
        message.type === "data" &&
        decodeFrame(message.frame).type === "update",
    );
    const frame = relayed.type === "data" ? decodeFrame(relayed.frame) : null;
    const mirror = new Y.Doc();
    if (frame?.type === "update") Y.applyUpdate(mirror, frame.update);
    expect(mirror.getText("t").toString()).toBe("from y-websocket");
  });

  it("refuses a channel whose token does not cover its document, and only that channel", async () => {
    const running = await server({ authorize: await createTokenAuth({ secret: SECRET }) });
    const mint = (doc: string) =>
      mintToken({
        secret: SECRET,
        userId: "alice",
        name: "Alice",
        doc,
        permission: "write",
        expiresIn: 600,
      });
    const { client, send, next } = await sharedClient(running);
    send({ type: "open", channel: 1, docId: "allowed", token: await mint("allowed") });
    send({ type: "open", channel: 2, docId: "secret", token: await mint("allowed") });
    send({ type: "open", channel: 3, docId: "allowed", token: "" });
    const refused = await next(isChannel(2, "close"));
    expect(refused).toMatchObject({ code: CLOSE_FORBIDDEN });
    const missing = await next(isChannel(3, "close"));
    expect(missing.type === "close" && missing.code).toBe(4401);
    await next(isChannel(1, "data"));
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("ends a channel the client closes, and frees its document", async () => {
    const running = await server();
    const { send, next } = await sharedClient(running);
    send({ type: "open", channel: 1, docId: "closing", token: "" });
    await next(isChannel(1, "data"));
    send({ type: "close", channel: 1, code: CLOSE_NORMAL, reason: "" });
    await expect
      .poll(async () => (await fetchJson(running.url, "/api/stats?doc=closing")).body)
      .toMatchObject({ connections: 0, sockets: 1, doc: { connections: 0 } });
  });

  it("closes a shared socket that carries no document for two heartbeats", async () => {
    const running = await server({ heartbeatMs: 50 });
    const { client, send, next } = await sharedClient(running);
    // One document for a while, then none.
    send({ type: "open", channel: 1, docId: "briefly", token: "" });
    await next(isChannel(1, "data"));
    send({ type: "close", channel: 1, code: CLOSE_NORMAL, reason: "" });
    expect(await client.closed).toEqual({ code: CLOSE_NORMAL, reason: "no documents open" });
  });

  it("limits the documents on one socket", async () => {
    const running = await server({ limits: { maxDocumentsPerSocket: 2 } });
    const { send, next } = await sharedClient(running);
    for (const channel of [1, 2, 3]) {
      send({ type: "open", channel, docId: `limited-${channel}`, token: "" });
    }
    const refused = await next(isChannel(3, "close"));
    expect(refused).toMatchObject({ code: CLOSE_TRY_AGAIN_LATER });
    await next(isChannel(1, "data"));
    await next(isChannel(2, "data"));
  });

  it("closes the socket with 4400 on a malformed message, and other sockets go on", async () => {
    const running = await server();
    const bad = await sharedClient(running);
    const good = await sharedClient(running);
    good.send({ type: "open", channel: 1, docId: "survivor", token: "" });
    await good.next(isChannel(1, "data"));
    bad.send({ type: "open", channel: 1, docId: "victim", token: "" });
    await bad.next(isChannel(1, "data"));
    bad.client.ws.send(Uint8Array.of(9, 1, 2));
    expect((await bad.client.closed).code).toBe(CLOSE_BAD_FRAME);
    // The same channel number twice is a protocol error too.
    const twice = await sharedClient(running);
    twice.send({ type: "open", channel: 4, docId: "twice", token: "" });
    twice.send({ type: "open", channel: 4, docId: "twice", token: "" });
    expect(await twice.client.closed).toMatchObject({ code: CLOSE_BAD_FRAME });
    expect(good.client.ws.readyState).toBe(WebSocket.OPEN);
    expect(await storedText(running, "victim")).toBe("");
  });

  it("at shutdown ends every channel with 1001, then the socket", async () => {
    const running = await startServer();
    const { client, send, next } = await sharedClient(running);
    send({ type: "open", channel: 1, docId: "stopping-a", token: "" });
    send({ type: "open", channel: 2, docId: "stopping-b", token: "" });
    await next(isChannel(1, "data"));
    await next(isChannel(2, "data"));
    const stopped = running.server.close();
    expect(await next(isChannel(1, "close"))).toMatchObject({ code: 1001 });
    expect(await next(isChannel(2, "close"))).toMatchObject({ code: 1001 });
    expect((await client.closed).code).toBe(1001);
    await stopped;
    await running.store.close();
  });

  it("carries several documents on one HTTP fallback session where WebSocket is blocked", async () => {
    const running = await server();
    const shared = new SharedConnection({
      url: running.wsUrl,
      WebSocketImpl: HttpSocket as unknown as WebSocketConstructor,
    });
    defer(() => shared.close());
    const providers = await sharedProviders(running, shared, ["h-one", "h-two"]);
    expect(shared.channelCount).toBe(2);
    const stats = await fetchJson(running.url, "/api/stats");
    expect(stats.body).toMatchObject({ connections: 2, sockets: 0, httpSessions: { open: 1 } });

    const stock = connectProvider(running.wsUrl, "h-two");
    defer(() => stock.provider.destroy());
    await whenSynced(stock.provider);
    providers[1]?.doc.getText("t").insert(0, "over one HTTP session");
    await whenDoc(stock.doc, (doc) => doc.getText("t").toString() === "over one HTTP session");
    stock.doc.getText("t").insert(0, "and back, ");
    await whenDoc(
      providers[1]?.doc as Y.Doc,
      (doc) => doc.getText("t").toString() === "and back, over one HTTP session",
    );
  });

  it("gives CowriteProviders one socket for several documents (client SharedConnection)", async () => {
    const running = await server();
    const sockets: WebSocket[] = [];
    class CountingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const shared = new SharedConnection({
      url: running.wsUrl,
      WebSocketImpl: CountingWebSocket as unknown as WebSocketConstructor,
    });
    defer(() => shared.close());
    const providers = await sharedProviders(running, shared, ["one", "two", "three"]);
    expect(sockets).toHaveLength(1);
    expect(shared.channelCount).toBe(3);

    // An edit through a channel reaches a stock client and is saved.
    const stock = connectProvider(running.wsUrl, "two");
    defer(() => stock.provider.destroy());
    await whenSynced(stock.provider);
    providers[1]?.doc.getText("t").insert(0, "shared");
    await whenDoc(stock.doc, (doc) => doc.getText("t").toString() === "shared");
    await new Promise<void>((resolve) => {
      const provider = providers[1];
      if (provider?.saved === "saved") return resolve();
      provider?.on("saved", (state) => state === "saved" && resolve());
    });
    expect(await storedText(running, "two")).toBe("shared");

    // Destroying one provider closes only its channel; the socket stays.
    providers[0]?.destroy();
    expect(shared.channelCount).toBe(2);
    expect(sockets[0]?.readyState).toBe(WebSocket.OPEN);
  });
});
