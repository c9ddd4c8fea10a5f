// @vitest-environment jsdom
import {
  CLOSE_FORBIDDEN,
  CLOSE_NO_DOCUMENT,
  CLOSE_UNAUTHENTICATED,
  type Frame,
} from "@cowrite/shared";
import * as decoding from "lib0/decoding";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as Y from "yjs";
import {
  type ConnectionState,
  CowriteProvider,
  type SavedState,
  type TokenSource,
} from "../src/provider.ts";
import { createFakeWebSockets, type FakeSocket } from "./fake-websocket.ts";

interface Setup {
  doc: Y.Doc;
  provider: CowriteProvider;
  sockets: FakeSocket[];
  windowTarget: EventTarget;
  states: ConnectionState[];
  saved: SavedState[];
}

const providers: CowriteProvider[] = [];

function setup(options: { online?: () => boolean; token?: TokenSource } = {}): Setup {
  const doc = new Y.Doc();
  const { Impl, sockets } = createFakeWebSockets();
  const windowTarget = new EventTarget();
  const provider = new CowriteProvider({
    url: "ws://example.test/ws",
    docId: "doc-1",
    doc,
    WebSocketImpl: Impl,
    backoff: { minMs: 250, maxMs: 10_000 },
    saveProbeDelayMs: 300,
    random: () => 1,
    isOnline: options.online ?? (() => true),
    windowTarget,
    documentTarget: null,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  providers.push(provider);
  const states: ConnectionState[] = [];
  const saved: SavedState[] = [];
  provider.on("connection", (state) => states.push(state));
  provider.on("saved", (state) => saved.push(state));
  return { doc, provider, sockets, windowTarget, states, saved };
}

function lastSocket(sockets: FakeSocket[]): FakeSocket {
  const socket = sockets.at(-1);
  if (socket === undefined) throw new Error("no socket was opened");
  return socket;
}

/** The token a socket offered as a subprotocol, and checks it is not in the URL too. */
function sentToken(socket: FakeSocket): string | null {
  expect(socket.url).not.toContain("token");
  const offered = socket.protocols.find((protocol) => protocol.startsWith("cowrite-token."));
  return offered?.slice("cowrite-token.".length) ?? null;
}

/** Opens the socket and completes the handshake with an empty server doc. */
function handshake(socket: FakeSocket, serverDoc = new Y.Doc()): void {
  socket.open();
  socket.receive({ type: "sync-step-1", stateVector: Y.encodeStateVector(serverDoc) });
  socket.receive({ type: "sync-step-2", update: Y.encodeStateAsUpdate(serverDoc) });
}

/** Client ids and states in an awareness update. */
function readAwareness(update: Uint8Array): { clientId: number; state: unknown }[] {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const clientId = decoding.readVarUint(decoder);
    decoding.readVarUint(decoder);
    entries.push({ clientId, state: JSON.parse(decoding.readVarString(decoder)) });
  }
  return entries;
}

/** The clocks in an awareness update. */
function readClocks(update: Uint8Array): number[] {
  const decoder = decoding.createDecoder(update);
  const count = decoding.readVarUint(decoder);
  const clocks = [];
  for (let i = 0; i < count; i++) {
    decoding.readVarUint(decoder);
    clocks.push(decoding.readVarUint(decoder));
    decoding.readVarString(decoder);
  }
  return clocks;
}

function ofType<T extends Frame["type"]>(frames: Frame[], type: T): Extract<Frame, { type: T }>[] {
  return frames.filter((frame): frame is Extract<Frame, { type: T }> => frame.type === type);
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const provider of providers.splice(0)) provider.destroy();
  vi.useRealTimers();
});

describe("CowriteProvider", () => {
  it("connects to <url>/<docId> and completes the sync handshake", () => {
    const { provider, sockets, states } = setup();
    const synced = vi.fn();
    const status = vi.fn();
    provider.on("sync", synced);
    provider.on("status", status);
    const socket = lastSocket(sockets);
    expect(socket.url).toBe("ws://example.test/ws/doc-1");

    const serverDoc = new Y.Doc();
    serverDoc.getText("title").insert(0, "Hello");
    socket.open();
    expect(status).toHaveBeenLastCalledWith({ status: "connected" });
    expect(socket.takeFrames().map((frame) => frame.type)).toContain("sync-step-1");

    socket.receive({ type: "sync-step-1", stateVector: Y.encodeStateVector(serverDoc) });
    expect(ofType(socket.takeFrames(), "sync-step-2")).toHaveLength(1);
    expect(provider.synced).toBe(false);

    socket.receive({ type: "sync-step-2", update: Y.encodeStateAsUpdate(serverDoc) });
    expect(synced).toHaveBeenCalledWith(true);
    expect(provider.synced).toBe(true);
    expect(provider.doc.getText("title").toString()).toBe("Hello");
    expect(states.at(-1)).toEqual({ status: "connected" });
  });

  it("sends local updates and does not echo remote ones", () => {
    const { doc, sockets } = setup();
    const socket = lastSocket(sockets);
    handshake(socket);
    socket.takeFrames();

    doc.getText("title").insert(0, "local");
    const sent = ofType(socket.takeFrames(), "update");
    expect(sent).toHaveLength(1);

    const remote = new Y.Doc();
    remote.getText("title").insert(0, "remote ");
    socket.receive({ type: "update", update: Y.encodeStateAsUpdate(remote) });
    expect(doc.getText("title").toString()).toContain("remote");
    expect(ofType(socket.takeFrames(), "update")).toHaveLength(0);
  });

  it("reconnects with exponential backoff after an abnormal close", () => {
    const { sockets, states } = setup();
    handshake(lastSocket(sockets));
    lastSocket(sockets).serverClose(1006);
    expect(states.at(-1)).toMatchObject({ status: "reconnecting", attempt: 1 });

    vi.advanceTimersByTime(249);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);

    // The second attempt fails before syncing: the delay doubles.
    lastSocket(sockets).serverClose(1006);
    vi.advanceTimersByTime(499);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);

    // A successful sync resets the backoff.
    handshake(lastSocket(sockets));
    lastSocket(sockets).serverClose(1001, "server shutting down");
    vi.advanceTimersByTime(250);
    expect(sockets).toHaveLength(4);
  });

  it("caps the backoff at maxMs", () => {
    const { sockets } = setup();
    for (let i = 0; i < 12; i++) {
      lastSocket(sockets).serverClose(1006);
      vi.runOnlyPendingTimers();
    }
    const before = sockets.length;
    lastSocket(sockets).serverClose(1006);
    vi.advanceTimersByTime(9_999);
    expect(sockets).toHaveLength(before);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(before + 1);
  });

  it.each([
    [CLOSE_NO_DOCUMENT, "document was deleted"],
    [CLOSE_UNAUTHENTICATED, "authentication required"],
  ])("stops after close code %i and reports the reason", (code, reason) => {
    const { provider, sockets, states } = setup();
    handshake(lastSocket(sockets));
    lastSocket(sockets).serverClose(code, reason);
    expect(states.at(-1)).toEqual({ status: "stopped", code, reason });
    expect(provider.connection).toEqual({ status: "stopped", code, reason });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("falls back to the standard reason when the server sends none", () => {
    const { sockets, states } = setup();
    lastSocket(sockets).serverClose(CLOSE_NO_DOCUMENT, "");
    expect(states.at(-1)).toEqual({
      status: "stopped",
      code: CLOSE_NO_DOCUMENT,
      reason: "document not found",
    });
  });

  it("closes with 4400 when the server sends a malformed frame, then retries", () => {
    const { sockets } = setup();
    const socket = lastSocket(sockets);
    handshake(socket);
    socket.receive(new Uint8Array([42, 1, 2]));
    expect(socket.closedWith?.code).toBe(4400);
    vi.advanceTimersByTime(250);
    expect(sockets).toHaveLength(2);
  });

  it("goes offline on the offline event and reconnects at once when online again", () => {
    let online = true;
    const { sockets, windowTarget, states } = setup({ online: () => online });
    handshake(lastSocket(sockets));
    online = false;
    windowTarget.dispatchEvent(new Event("offline"));
    expect(states.at(-1)).toEqual({ status: "offline" });
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);

    online = true;
    windowTarget.dispatchEvent(new Event("online"));
    expect(sockets).toHaveLength(2);
  });

  it("reports saved only after the server answers a sync step 1 sent after the last edit", () => {
    const { doc, provider, sockets, saved } = setup();
    const socket = lastSocket(sockets);
    const serverDoc = new Y.Doc();
    handshake(socket, serverDoc);
    socket.takeFrames();
    expect(provider.saved).toBe("saved");

    doc.getText("title").insert(0, "a");
    expect(provider.saved).toBe("saving");
    vi.advanceTimersByTime(299);
    expect(ofType(socket.frames(), "sync-step-1")).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(ofType(socket.takeFrames(), "sync-step-1")).toHaveLength(1);

    // Another edit before the answer arrives: the answer does not cover it.
    doc.getText("title").insert(1, "b");
    socket.receive({ type: "sync-step-2", update: Y.encodeStateAsUpdate(serverDoc) });
    expect(provider.saved).toBe("saving");

    vi.advanceTimersByTime(300);
    expect(ofType(socket.takeFrames(), "sync-step-1")).toHaveLength(1);
    socket.receive({ type: "sync-step-2", update: Y.encodeStateAsUpdate(serverDoc) });
    expect(provider.saved).toBe("saved");
    expect(saved).toEqual(["saving", "saved"]);
  });

  it("marks edits made while disconnected as unsaved", () => {
    const { doc, provider, sockets } = setup();
    handshake(lastSocket(sockets));
    lastSocket(sockets).serverClose(1006);
    doc.getText("title").insert(0, "offline edit");
    expect(provider.saved).toBe("unsaved");

    // On reconnect the edit travels in the step 2 answering the server's step 1.
    vi.advanceTimersByTime(250);
    const socket = lastSocket(sockets);
    handshake(socket);
    expect(provider.saved).toBe("saving");
    const step2 = ofType(socket.takeFrames(), "sync-step-2")[0];
    const check = new Y.Doc();
    Y.applyUpdate(check, step2?.update ?? new Uint8Array());
    expect(check.getText("title").toString()).toBe("offline edit");
    vi.advanceTimersByTime(300);
    expect(ofType(socket.takeFrames(), "sync-step-1")).toHaveLength(1);
    socket.receive({ type: "sync-step-2", update: new Uint8Array([0, 0]) });
    expect(provider.saved).toBe("saved");
  });

  it("sends its awareness state on connect and clears it on pagehide", () => {
    const { provider, sockets, windowTarget } = setup();
    provider.awareness.setLocalState({ name: "Alice", color: "#1a73e8" });
    const socket = lastSocket(sockets);
    socket.open();
    const onOpen = ofType(socket.takeFrames(), "awareness");
    expect(onOpen.map((frame) => readAwareness(frame.update))).toContainEqual([
      { clientId: provider.awareness.clientID, state: { name: "Alice", color: "#1a73e8" } },
    ]);

    windowTarget.dispatchEvent(new Event("pagehide"));
    const cleared = ofType(socket.takeFrames(), "awareness").map((frame) =>
      readAwareness(frame.update),
    );
    expect(cleared).toEqual([[{ clientId: provider.awareness.clientID, state: null }]]);
    expect(provider.awareness.getLocalState()).toBeNull();
  });

  it("announces its presence with a newer clock after a reconnect", () => {
    const { provider, sockets } = setup();
    provider.awareness.setLocalState({ name: "Alice" });
    const clocks = (socket: FakeSocket) =>
      ofType(socket.takeFrames(), "awareness").flatMap((frame) => readClocks(frame.update));
    handshake(lastSocket(sockets));
    const before = Math.max(...clocks(lastSocket(sockets)));
    lastSocket(sockets).serverClose(1006);
    vi.advanceTimersByTime(250);
    handshake(lastSocket(sockets));
    // The server removed our state when the socket went, keeping its clock;
    // only a newer one brings us back before the 15 s renewal.
    expect(Math.max(...clocks(lastSocket(sockets)))).toBeGreaterThan(before);
  });

  it("tells peers it left and removes every listener and timer on destroy", () => {
    const { provider, doc, sockets, windowTarget } = setup();
    provider.awareness.setLocalState({ name: "Alice", color: "#1a73e8" });
    const socket = lastSocket(sockets);
    handshake(socket);
    socket.takeFrames();
    doc.getText("title").insert(0, "x");
    socket.takeFrames();

    provider.destroy();
    const frames = socket.takeFrames();
    expect(ofType(frames, "awareness").map((frame) => readAwareness(frame.update))).toEqual([
      [{ clientId: provider.awareness.clientID, state: null }],
    ]);
    expect(socket.closedWith?.code).toBe(1000);
    expect(vi.getTimerCount()).toBe(0);

    doc.getText("title").insert(0, "after");
    windowTarget.dispatchEvent(new Event("online"));
    expect(sockets).toHaveLength(1);
    expect(socket.sent).toHaveLength(0);
  });

  it("sends the token as a cowrite-token subprotocol, never in the URL", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.abc-_123";
    const { sockets } = setup({ token: jwt });
    expect(lastSocket(sockets).url).toBe("ws://example.test/ws/doc-1");
    expect(lastSocket(sockets).protocols).toEqual(["cowrite", `cowrite-token.${jwt}`]);
  });

  it("offers no subprotocol without a token", () => {
    const { sockets } = setup();
    expect(lastSocket(sockets).url).toBe("ws://example.test/ws/doc-1");
    expect(lastSocket(sockets).protocols).toEqual([]);
  });

  it("falls back to the token query parameter for a token no subprotocol can hold", () => {
    const { sockets } = setup({ token: "header.pay+load/=.sig" });
    expect(lastSocket(sockets).url).toBe(
      "ws://example.test/ws/doc-1?token=header.pay%2Bload%2F%3D.sig",
    );
    expect(lastSocket(sockets).protocols).toEqual([]);
  });

  it("asks the token function again before every attempt", async () => {
    let calls = 0;
    const { sockets } = setup({ token: () => `token-${++calls}` });
    expect(sentToken(lastSocket(sockets))).toBe("token-1");
    lastSocket(sockets).serverClose(1006);
    await vi.advanceTimersByTimeAsync(250);
    expect(sentToken(lastSocket(sockets))).toBe("token-2");
  });

  it("reconnects with a fresh token, after a backoff, when the token expired and a function supplies tokens", async () => {
    let calls = 0;
    const token = vi.fn(async () => `token-${++calls}`);
    const { sockets, states } = setup({ token });
    await vi.advanceTimersByTimeAsync(0);
    expect(sentToken(lastSocket(sockets))).toBe("token-1");
    handshake(lastSocket(sockets));

    lastSocket(sockets).serverClose(CLOSE_UNAUTHENTICATED, "token expired");
    expect(states.at(-1)).toMatchObject({ status: "reconnecting", attempt: 1 });
    await vi.advanceTimersByTimeAsync(249);
    expect(token).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(token).toHaveBeenCalledTimes(2);
    expect(sockets).toHaveLength(2);
    expect(sentToken(lastSocket(sockets))).toBe("token-2");

    // A refresh that is refused again counts as another failed attempt: the delay doubles.
    lastSocket(sockets).serverClose(CLOSE_UNAUTHENTICATED, "token expired");
    expect(states.at(-1)).toMatchObject({ status: "reconnecting", attempt: 2 });
    await vi.advanceTimersByTimeAsync(499);
    expect(sockets).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(sockets).toHaveLength(3);
    handshake(lastSocket(sockets));
    expect(states.at(-1)).toEqual({ status: "connected" });
  });

  it("stops and reports when the token expired and it has no way to get another", () => {
    const { provider, sockets, states } = setup({ token: "fixed-token" });
    handshake(lastSocket(sockets));
    lastSocket(sockets).serverClose(CLOSE_UNAUTHENTICATED, "token expired");
    const stopped = { status: "stopped", code: CLOSE_UNAUTHENTICATED, reason: "token expired" };
    expect(states.at(-1)).toEqual(stopped);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(1);
    expect(provider.connection).toEqual(stopped);
  });

  it.each([
    [CLOSE_UNAUTHENTICATED, "invalid token"],
    [CLOSE_FORBIDDEN, "token does not grant access to document doc-1"],
  ])("stops after %i %s even when a function supplies tokens", async (code, reason) => {
    const token = vi.fn(() => "token");
    const { sockets, states } = setup({ token });
    lastSocket(sockets).serverClose(code, reason);
    expect(states.at(-1)).toEqual({ status: "stopped", code, reason });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);
    expect(token).toHaveBeenCalledTimes(1);
  });

  it("retries with backoff when the token function fails", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    let fail = true;
    const { sockets, states } = setup({
      token: async () => {
        if (fail) throw new Error("token service unreachable");
        return "fresh";
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(0);
    expect(states.at(-1)).toMatchObject({ status: "reconnecting", attempt: 1 });
    expect(warn).toHaveBeenCalled();
    fail = false;
    await vi.advanceTimersByTimeAsync(250);
    expect(sentToken(lastSocket(sockets))).toBe("fresh");
    warn.mockRestore();
  });

  it("opens no socket when disconnected while a token is being fetched", async () => {
    let resolveToken: (token: string) => void = () => {};
    const { provider, sockets, states } = setup({
      token: () =>
        new Promise<string>((resolve) => {
          resolveToken = resolve;
        }),
    });
    provider.disconnect();
    resolveToken("late");
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(0);
    expect(states.at(-1)).toMatchObject({ status: "stopped", code: 1000 });
  });

  it("drops remote carets when the connection closes", () => {
    const { provider, sockets } = setup();
    const socket = lastSocket(sockets);
    handshake(socket);
    const peerDoc = new Y.Doc();
    const { Awareness, encodeAwarenessUpdate } = awarenessModule;
    const peer = new Awareness(peerDoc);
    peer.setLocalState({ name: "Bob" });
    socket.receive({ type: "awareness", update: encodeAwarenessUpdate(peer, [peer.clientID]) });
    expect(provider.awareness.getStates().has(peer.clientID)).toBe(true);
    socket.serverClose(1006);
    expect(provider.awareness.getStates().has(peer.clientID)).toBe(false);
    peer.destroy();
  });
});

import * as awarenessModule from "y-protocols/awareness";
