// @vitest-environment jsdom
import {
  CLOSE_FORBIDDEN,
  decodeMuxMessage,
  encodeFrame,
  encodeMuxMessage,
  MUX_SUBPROTOCOL,
  type MuxMessage,
  WS_SUBPROTOCOL,
} from "@cowrite/shared";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SharedConnection } from "../src/shared-connection.ts";
import { createFakeWebSockets, type FakeSocket } from "./fake-websocket.ts";

afterEach(() => {
  vi.useRealTimers();
});

function setup(now = () => 0) {
  const shared = createFakeWebSockets();
  const fallback = createFakeWebSockets();
  const connection = new SharedConnection({
    url: "ws://host/ws",
    WebSocketImpl: shared.Impl,
    fallback: fallback.Impl,
    idleCloseMs: 50,
    now,
  });
  const open = (docId: string, protocols?: string[]) =>
    new connection.WebSocketImpl(`ws://host/ws/${docId}`, protocols);
  return { connection, shared: shared.sockets, fallback: fallback.sockets, open };
}

function accept(socket: FakeSocket | undefined): FakeSocket {
  if (!socket) throw new Error("no socket");
  socket.protocol = MUX_SUBPROTOCOL;
  socket.open();
  return socket;
}

function sentMessages(socket: FakeSocket): MuxMessage[] {
  return socket.sent.map((bytes) => decodeMuxMessage(bytes));
}

function serverSends(socket: FakeSocket, message: MuxMessage): void {
  const bytes = encodeMuxMessage(message);
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  socket.onmessage?.(new MessageEvent("message", { data }));
}

describe("SharedConnection", () => {
  it("opens one socket for several documents, each a channel with its own token", async () => {
    const { shared, open } = setup();
    const a = open("doc-a", [WS_SUBPROTOCOL, "cowrite-token.abc"]);
    const b = open("doc%20b");
    const opened: string[] = [];
    a.onopen = () => opened.push("a");
    b.onopen = () => opened.push("b");
    expect(shared).toHaveLength(1);
    expect(shared[0]?.url).toBe("ws://host/ws");
    expect(shared[0]?.protocols).toEqual([MUX_SUBPROTOCOL]);
    const socket = accept(shared[0]);
    expect(opened).toEqual(["a", "b"]);
    expect(sentMessages(socket)).toEqual([
      { type: "open", channel: 1, docId: "doc-a", token: "abc" },
      { type: "open", channel: 2, docId: "doc b", token: "" },
    ]);
    // A third, on the open socket, opens later (after its handlers are set).
    const c = open("doc-c");
    let cOpened = false;
    c.onopen = () => {
      cOpened = true;
    };
    await Promise.resolve();
    expect(cOpened).toBe(true);
    expect(shared).toHaveLength(1);
  });

  it("routes frames both ways by channel", () => {
    const { shared, open } = setup();
    const a = open("doc-a");
    const b = open("doc-b");
    const socket = accept(shared[0]);
    socket.sent = [];
    const frame = encodeFrame({ type: "query-awareness" });
    b.send(frame);
    expect(sentMessages(socket)).toEqual([{ type: "data", channel: 2, frame }]);
    const received: string[] = [];
    a.onmessage = (event) => received.push(`a:${new Uint8Array(event.data).length}`);
    b.onmessage = (event) => received.push(`b:${new Uint8Array(event.data).length}`);
    serverSends(socket, { type: "data", channel: 1, frame: Uint8Array.of(3) });
    serverSends(socket, { type: "data", channel: 9, frame: Uint8Array.of(3) });
    expect(received).toEqual(["a:1"]);
  });

  it("closes a channel with the server's code and reason; the others stay open", () => {
    const { shared, open, connection } = setup();
    const a = open("doc-a");
    const b = open("doc-b");
    const socket = accept(shared[0]);
    const closes: { code: number; reason: string }[] = [];
    a.onclose = (event) => closes.push({ code: event.code, reason: event.reason });
    serverSends(socket, { type: "close", channel: 1, code: CLOSE_FORBIDDEN, reason: "no access" });
    expect(closes).toEqual([{ code: CLOSE_FORBIDDEN, reason: "no access" }]);
    expect(b.readyState).toBe(1);
    expect(connection.channelCount).toBe(1);
  });

  it("tells the server when a channel closes, and closes an idle socket later", () => {
    vi.useFakeTimers();
    const { shared, open } = setup();
    const a = open("doc-a");
    const socket = accept(shared[0]);
    socket.sent = [];
    a.close(1000, "disconnected");
    expect(sentMessages(socket)).toEqual([
      { type: "close", channel: 1, code: 1000, reason: "disconnected" },
    ]);
    expect(socket.closedWith).toBeNull();
    vi.advanceTimersByTime(50);
    expect(socket.closedWith).toEqual({ code: 1000, reason: "idle" });
  });

  it("a channel closed before the socket opened is never opened", async () => {
    const { shared, open } = setup();
    const a = open("doc-a");
    a.close();
    const b = open("doc-b");
    const socket = accept(shared[0]);
    await Promise.resolve();
    expect(sentMessages(socket)).toEqual([{ type: "open", channel: 2, docId: "doc-b", token: "" }]);
    expect(a.readyState).toBe(3);
    expect(b.readyState).toBe(1);
  });

  it("a dropped socket closes every channel with its code, and the next channel opens a new one", () => {
    const { shared, open } = setup();
    const a = open("doc-a");
    const b = open("doc-b");
    const socket = accept(shared[0]);
    const codes: number[] = [];
    a.onclose = (event) => codes.push(event.code);
    b.onclose = (event) => codes.push(event.code);
    socket.serverClose(1001, "server shutting down");
    expect(codes).toEqual([1001, 1001]);
    open("doc-a");
    expect(shared).toHaveLength(2);
  });

  it("after three failures before opening, uses sockets of their own for a minute", () => {
    let time = 0;
    const { shared, fallback, open } = setup(() => time);
    for (let i = 0; i < 3; i++) {
      const channel = open("doc-a");
      let closedWith = 0;
      channel.onclose = (event) => {
        closedWith = event.code;
      };
      shared.at(-1)?.serverClose(1006);
      expect(closedWith).toBe(1006);
    }
    const own = open("doc-a", [WS_SUBPROTOCOL, "cowrite-token.t"]);
    expect(fallback).toHaveLength(1);
    expect(own).toBe(fallback[0]);
    expect(fallback[0]?.url).toBe("ws://host/ws/doc-a");
    expect(fallback[0]?.protocols).toEqual([WS_SUBPROTOCOL, "cowrite-token.t"]);
    time = 60_001;
    open("doc-a");
    expect(shared).toHaveLength(4);
  });

  it("a socket not open within the timeout is given up for sockets of their own", () => {
    vi.useFakeTimers();
    const { shared, fallback, open } = setup();
    const channel = open("doc-a");
    let closedWith = 0;
    channel.onclose = (event) => {
      closedWith = event.code;
    };
    vi.advanceTimersByTime(2_999);
    expect(closedWith).toBe(0);
    vi.advanceTimersByTime(1);
    expect(closedWith).toBe(1006);
    expect(shared[0]?.closedWith).not.toBeNull();
    open("doc-a");
    expect(fallback).toHaveLength(1);
  });

  it("a server that does not select the subprotocol gets sockets of their own", () => {
    const { shared, fallback, open } = setup();
    const channel = open("doc-a");
    let closedWith = 0;
    channel.onclose = (event) => {
      closedWith = event.code;
    };
    shared[0]?.open(); // no protocol selected
    expect(closedWith).toBe(1006);
    expect(shared[0]?.closedWith).not.toBeNull();
    open("doc-a");
    expect(fallback).toHaveLength(1);
  });

  it("a malformed message closes the socket with 4400 and every channel retries", () => {
    const { shared, open } = setup();
    const a = open("doc-a");
    const socket = accept(shared[0]);
    let closedWith = 0;
    a.onclose = (event) => {
      closedWith = event.code;
    };
    socket.receive(Uint8Array.of(7, 7));
    expect(socket.closedWith?.code).toBe(4400);
    expect(closedWith).toBe(1006);
  });
});
