/**
 * The client's HTTP fallback (client/src/http-socket.ts, fallback-socket.ts)
 * against a real server: Cowrite's provider syncs, saves and hears close
 * codes over HTTP, falls back when WebSockets fail, and moves back when
 * they work again.
 */
import { CLOSE_UNAUTHENTICATED } from "@cowrite/shared";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { createFallbackWebSocket } from "../../client/src/fallback-socket.ts";
import { type HttpCloseEvent, HttpSocket, httpTargetOf } from "../../client/src/http-socket.ts";
import {
  type ConnectionState,
  CowriteProvider,
  type WebSocketConstructor,
} from "../../client/src/provider.ts";
import { createTokenAuth, mintToken } from "../src/auth.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import {
  connectProvider,
  type Running,
  serverStarter,
  useCleanups,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const SECRET = "test-secret-test-secret-test-secret-42";
const defer = useCleanups();

const server = serverStarter(defer, () => ({ store: new MemoryDocStore() }));

function provider(
  running: Running,
  docId: string,
  WebSocketImpl: WebSocketConstructor,
  token?: string,
): CowriteProvider {
  const made = new CowriteProvider({
    url: running.wsUrl,
    docId,
    doc: new Y.Doc(),
    WebSocketImpl,
    windowTarget: null,
    documentTarget: null,
    isOnline: () => true,
    saveProbeDelayMs: 10,
    backoff: { minMs: 10, maxMs: 100 },
    ...(token ? { token } : {}),
  });
  defer(() => made.destroy());
  return made;
}

function whenState(
  target: CowriteProvider,
  check: (state: ConnectionState) => boolean,
): Promise<ConnectionState> {
  if (check(target.connection)) return Promise.resolve(target.connection);
  return new Promise((resolve) => {
    const listener = (state: ConnectionState) => {
      if (!check(state)) return;
      target.off("connection", listener);
      resolve(state);
    };
    target.on("connection", listener);
  });
}

function whenSaved(target: CowriteProvider): Promise<void> {
  if (target.saved === "saved") return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (state: string) => {
      if (state !== "saved") return;
      target.off("saved", listener);
      resolve();
    };
    target.on("saved", listener);
  });
}

function whenProviderSynced(target: CowriteProvider): Promise<void> {
  if (target.synced) return Promise.resolve();
  return new Promise((resolve) => {
    const listener = (synced: boolean) => {
      if (!synced) return;
      target.off("sync", listener);
      resolve();
    };
    target.on("sync", listener);
  });
}

/** ws's WebSocket, or (while `blocked`) one that fails before opening, as behind a proxy that strips Upgrade. */
function switchableWebSocket(): { Impl: WebSocketConstructor; gate: { blocked: boolean } } {
  const gate = { blocked: true };
  class Switchable extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      // A closed port: the handshake fails like a stripped Upgrade does.
      super(gate.blocked ? "ws://127.0.0.1:1/ws/blocked" : url, protocols ?? []);
    }
  }
  return { Impl: Switchable as unknown as WebSocketConstructor, gate };
}

describe("HttpSocket", () => {
  it("maps the WebSocket URL and token to the HTTP endpoint", () => {
    expect(httpTargetOf("wss://h.test/base/ws/doc-1", ["cowrite", "cowrite-token.abc"])).toEqual({
      endpoint: "https://h.test/base/http/doc-1",
      token: "abc",
    });
    expect(httpTargetOf("ws://h.test/ws/d?token=t%20u")).toEqual({
      endpoint: "http://h.test/http/d",
      token: "t u",
    });
  });

  it("carries Cowrite's provider: sync both ways with a WebSocket client, and saved", async () => {
    const running = await server();
    const ws = connectProvider(running.wsUrl, "over-http");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);
    ws.doc.getText("t").insert(0, "hello");

    const http = provider(running, "over-http", HttpSocket as unknown as WebSocketConstructor);
    await whenProviderSynced(http);
    expect(http.transport).toBe("http");
    expect(http.doc.getText("t").toString()).toBe("hello");
    http.doc.getText("t").insert(5, " world");
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "hello world");
    await whenSaved(http);
    const stored = new Y.Doc();
    for (const update of await running.store.load("over-http")) Y.applyUpdate(stored, update);
    expect(stored.getText("t").toString()).toBe("hello world");
    ws.doc.getText("t").insert(0, "> ");
    await whenDoc(http.doc, (d) => d.getText("t").toString() === "> hello world");
    expect(running.server.httpSessionCount).toBe(1);
  });

  it("reports the server's close code and reason, and ends its session on close()", async () => {
    const running = await server({ authorize: await createTokenAuth({ secret: SECRET }) });
    const rejected = new HttpSocket(`${running.wsUrl}/doc`, ["cowrite", "cowrite-token.nope"]);
    const closed = await new Promise<HttpCloseEvent>((resolve) => {
      rejected.onclose = resolve;
    });
    expect(closed.code).toBe(CLOSE_UNAUTHENTICATED);
    expect(closed.reason).not.toBe("");

    const token = await mintToken({
      secret: SECRET,
      userId: "a",
      name: "A",
      doc: "doc",
      permission: "write",
      expiresIn: 60,
    });
    const socket = new HttpSocket(`${running.wsUrl}/doc`, ["cowrite", `cowrite-token.${token}`]);
    const firstMessage = new Promise<void>((resolve) => {
      socket.onmessage = () => resolve();
    });
    await firstMessage;
    expect(running.server.connectionCount).toBe(1);
    const gone = new Promise<HttpCloseEvent>((resolve) => {
      socket.onclose = resolve;
    });
    socket.close(1000, "bye");
    expect((await gone).code).toBe(1000);
    expect(running.server.httpSessionCount).toBe(0);
  });

  it("a lost session closes with 1006 and the provider reconnects with a new one, losing nothing", async () => {
    const running = await server();
    const ws = connectProvider(running.wsUrl, "lost");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);
    // A fetch that, when told, sends the next poll to a session the server
    // does not know (as after a restart, or on another node).
    const lose = { next: false };
    const lossyFetch: typeof fetch = (input, init) => {
      let url = String(input);
      if (lose.next && url.includes("?pos=")) {
        lose.next = false;
        url = url.replace(/\/[^/?]+\?pos=/, "/gone?pos=");
      }
      return fetch(url, init);
    };
    class LossySocket extends HttpSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols, { fetch: lossyFetch });
      }
    }
    const http = provider(running, "lost", LossySocket as unknown as WebSocketConstructor);
    await whenProviderSynced(http);
    const dropped = whenState(http, (state) => state.status === "reconnecting");
    lose.next = true;
    // Answers the poll being held; the next one is lost.
    ws.doc.getText("t").insert(0, "wake");
    await dropped;
    http.doc.getText("t").insert(0, "typed while away ");
    await whenState(http, (state) => state.status === "connected");
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "typed while away wake");
    await whenSaved(http);
  });
  it("a POST answered by a proxy's 502 drops the connection, and the edit still arrives", async () => {
    const running = await server();
    const ws = connectProvider(running.wsUrl, "bad-gateway");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);
    // A fetch whose next POST is answered by "the proxy", never reaching the server.
    const gateway = { failNextPost: false };
    const flakyFetch: typeof fetch = (input, init) => {
      if (
        gateway.failNextPost &&
        init?.method === "POST" &&
        !String(input).endsWith("/http/bad-gateway")
      ) {
        gateway.failNextPost = false;
        return Promise.resolve(new Response("Bad Gateway", { status: 502 }));
      }
      return fetch(input, init);
    };
    class FlakySocket extends HttpSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols, { fetch: flakyFetch });
      }
    }
    const http = provider(running, "bad-gateway", FlakySocket as unknown as WebSocketConstructor);
    await whenProviderSynced(http);
    gateway.failNextPost = true;
    http.doc.getText("t").insert(0, "through a flaky proxy");
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "through a flaky proxy");
    await whenSaved(http);
    expect(gateway.failNextPost).toBe(false);
  });

  it("polls cut by something on the way (a proxy's timeout) become shorter instead of dropping the connection", async () => {
    const running = await server();
    const ws = connectProvider(running.wsUrl, "cut");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);
    // Like a proxy that kills requests after 1.5 s.
    const waits: number[] = [];
    let reachedShortPolls: () => void = () => {};
    const shortPolls = new Promise<void>((resolve) => {
      reachedShortPolls = resolve;
    });
    const cuttingFetch: typeof fetch = (input, init) => {
      const url = String(input);
      const wait = /[?&]wait=(\d+)/.exec(url)?.[1];
      if (wait === undefined) return fetch(input, init);
      waits.push(Number(wait));
      if (Number(wait) === 1000) reachedShortPolls();
      const cut = AbortSignal.timeout(1500);
      return fetch(input, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, cut]) : cut,
      });
    };
    class CutSocket extends HttpSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols, { fetch: cuttingFetch, pollWaitMs: 4000 });
      }
    }
    const http = provider(running, "cut", CutSocket as unknown as WebSocketConstructor);
    const states: string[] = [];
    http.on("connection", (state) => states.push(state.status));
    await whenProviderSynced(http);
    await shortPolls;
    expect(waits[0]).toBe(4000);
    ws.doc.getText("t").insert(0, "still connected");
    await whenDoc(http.doc, (d) => d.getText("t").toString() === "still connected");
    expect(states).not.toContain("reconnecting");
  });
});

describe("the fallback WebSocket", () => {
  it("uses HTTP when WebSockets fail, and moves back to WebSocket once a probe opens, without losing edits", async () => {
    const running = await server();
    const { Impl, gate } = switchableWebSocket();
    const Fallback = createFallbackWebSocket({
      WebSocket: Impl,
      probeDelaysMs: [20],
      openTimeoutMs: 3000,
    });
    const ws = connectProvider(running.wsUrl, "moving");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);

    const client = provider(running, "moving", Fallback as unknown as WebSocketConstructor);
    await whenProviderSynced(client);
    expect(client.transport).toBe("http");
    client.doc.getText("t").insert(0, "over http");
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "over http");

    // Probes keep failing while blocked; once allowed, the next one opens.
    gate.blocked = false;
    const moved = whenState(
      client,
      (state) => state.status === "connected" && client.transport === "websocket",
    );
    const leftHttp = whenState(client, (state) => state.status === "reconnecting");
    await leftHttp;
    // Typed in the gap between the HTTP session and the WebSocket.
    client.doc.getText("t").insert(9, ", then websocket");
    await moved;
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "over http, then websocket");
    await whenSaved(client);
    expect(running.server.httpSessionCount).toBe(0);
    ws.doc.getText("t").insert(0, "> ");
    await whenDoc(client.doc, (d) => d.getText("t").toString() === "> over http, then websocket");
  });
});
