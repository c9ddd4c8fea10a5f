/**
 * CowriteProvider: keeps one Y.Doc (and its awareness) in sync with the
 * Cowrite server over a WebSocket speaking the y-websocket wire protocol.
 *
 * Contract:
 * - Fulfils @lexical/yjs's `Provider` interface: `awareness`, `connect()`,
 *   `disconnect()`, and `on`/`off` for `sync`, `status`, `update`, `reload`.
 *   `status` carries `{status: "connecting" | "connected" | "disconnected"}`
 *   exactly like y-websocket, because Lexical maps it to CONNECTED_COMMAND.
 * - Emits the richer `connection` event (see `ConnectionState`) for the UI,
 *   and `saved` (see `SavedState`) to tell whether local edits are on disk.
 * - Local doc updates (any origin other than this provider) are sent as
 *   update frames; updates received from the server are applied with this
 *   provider as origin so they are never echoed back.
 * - Reconnects with full-jitter exponential backoff unless the server closed
 *   with a permanent code (`shouldReconnect(code) === false`); then it stops
 *   and reports the code and reason.
 * - Auth: the `token` option travels as a WebSocket subprotocol
 *   (`cowrite-token.<token>`, PROTOCOL.md §1), not in the URL, which proxies
 *   and servers log; a token with characters a subprotocol cannot hold falls
 *   back to the `token` query parameter. When it is a function, it is called before every attempt, and a 4401 "token
 *   expired" close is retried (with backoff) with a fresh token instead of
 *   stopping; with a fixed token there is nothing to retry with.
 * - `destroy()` removes every listener and timer it installed.
 */
import {
  CLOSE_BAD_FRAME,
  CLOSE_NORMAL,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  describeCloseCode,
  encodeFrame,
  type Frame,
  ProtocolError,
  shouldReconnect,
  TOKEN_EXPIRED_REASON,
  WS_SUBPROTOCOL,
  WS_TOKEN_PROTOCOL_PREFIX,
} from "@cowrite/shared";
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from "y-protocols/awareness";
import * as Y from "yjs";
import { Emitter } from "./emitter.ts";
import { createFallbackWebSocket, type Transport } from "./fallback-socket.ts";

/** What the UI shows about the connection. */
export type ConnectionState =
  /** First attempt to reach the server. */
  | { status: "connecting" }
  /** The socket is open. */
  | { status: "connected" }
  /** The connection dropped; `retryAt` is when the next attempt starts (epoch ms), or null while an attempt is under way. */
  | { status: "reconnecting"; attempt: number; retryAt: number | null }
  /** The browser says it has no network; we wait for its `online` event. */
  | { status: "offline" }
  /** We will not reconnect by ourselves: the server refused us, or `disconnect()` was called. */
  | { status: "stopped"; code: number; reason: string };

export type ConnectionStatus = ConnectionState["status"];

/**
 * - `saved`: the server confirmed every local edit is written to disk.
 * - `saving`: edits were sent on an open connection; confirmation pending.
 * - `unsaved`: edits exist that the server has not confirmed and we are not connected.
 */
export type SavedState = "saved" | "saving" | "unsaved";

/** y-websocket's status values, which @lexical/yjs listens for. */
export type LexicalStatus = "connecting" | "connected" | "disconnected";

export type ProviderEvents = {
  status: (event: { status: LexicalStatus }) => void;
  connection: (state: ConnectionState) => void;
  sync: (isSynced: boolean) => void;
  saved: (state: SavedState) => void;
  /** Part of Lexical's Provider interface; Cowrite never emits it. */
  update: (arg: unknown) => void;
  /** Part of Lexical's Provider interface (doc replaced); Cowrite never emits it. */
  reload: (doc: Y.Doc) => void;
  /** The server refused something this connection tried (e.g. a read-only peer editing). */
  "permission-denied": (reason: string) => void;
};

/** What a subprotocol may hold (an RFC 7230 token); browsers refuse anything else. A JWT fits. */
const subprotocolChars = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** The subset of the WebSocket API the provider relies on, so tests can pass a fake. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocket;

/** A bearer token, or a function that supplies a current one (it may fetch). */
export type TokenSource = string | (() => string | Promise<string>);

/** Where `online`/`offline`/`pagehide`/`beforeunload`/`pageshow` come from. */
export type EventSource = Pick<EventTarget, "addEventListener" | "removeEventListener">;

export interface CowriteProviderOptions {
  /** WebSocket base URL, e.g. `ws://host/ws`; the doc id is appended as a path segment. */
  url: string;
  docId: string;
  doc: Y.Doc;
  /**
   * Sent in the WebSocket handshake (see the contract above). A function is called before every
   * (re)connect, so the host page can hand out a fresh token; an empty
   * string means no token.
   */
  token?: TokenSource;
  /** Defaults to a new Awareness on `doc`, which the provider then owns and destroys. */
  awareness?: Awareness;
  /** Connect immediately (default true). */
  connect?: boolean;
  /** Default: a WebSocket that falls back to HTTP (fallback-socket.ts). */
  WebSocketImpl?: WebSocketConstructor;
  /** Reconnect delays: full jitter over `minMs * 2^attempt`, capped at `maxMs`. */
  backoff?: { minMs: number; maxMs: number };
  /** Quiet time after the last local edit before asking the server to confirm it is saved. */
  saveProbeDelayMs?: number;
  /** Injected for deterministic tests; defaults to Math.random. */
  random?: () => number;
  /** Defaults to `navigator.onLine`. */
  isOnline?: () => boolean;
  /** Window-like target for page lifecycle and network events; null disables them. */
  windowTarget?: EventSource | null;
  /** Document for `visibilitychange`; null disables it. */
  documentTarget?: (EventSource & Pick<Document, "visibilityState">) | null;
}

const defaultBackoff = { minMs: 250, maxMs: 10_000 };
const defaultSaveProbeDelayMs = 400;
const WS_OPEN = 1;

/** A y-protocols awareness state is an arbitrary JSON object. */
type AwarenessState = Record<string, unknown>;

export class CowriteProvider {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly docId: string;

  private readonly url: string;
  private readonly token: TokenSource | undefined;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly backoff: { minMs: number; maxMs: number };
  private readonly saveProbeDelayMs: number;
  private readonly random: () => number;
  private readonly isOnline: () => boolean;
  private readonly windowTarget: EventSource | null;
  private readonly documentTarget: (EventSource & Pick<Document, "visibilityState">) | null;
  private readonly ownsAwareness: boolean;
  private readonly events = new Emitter<ProviderEvents>();

  private socket: WebSocket | null = null;
  /** True while the user (or Lexical) wants us connected. */
  private wantConnection = false;
  private destroyed = false;
  private everConnected = false;
  /** Failed attempts since the last successful sync; drives the backoff. */
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Set while a token function's promise is pending; one object per request, so stale answers are dropped. */
  private pendingToken: object | null = null;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private isSynced = false;
  private connectionState: ConnectionState = { status: "connecting" };

  /*
   * Saved tracking. Every local doc update bumps `localSeq`. `sentSeq` is the
   * highest local seq whose update has been written to the current socket.
   * Each sync step 1 we send records `sentSeq` in `probes`; the server answers
   * step 1s in order and persists every update before handling the next frame,
   * so the step 2 answering a probe proves everything up to its seq is on disk.
   */
  private localSeq = 0;
  private sentSeq = 0;
  private savedSeq = 0;
  private probes: number[] = [];
  private savedState: SavedState = "saved";
  /** Local awareness state stashed on pagehide, restored if the page comes back from bfcache. */
  private stashedLocalState: AwarenessState | null = null;

  constructor(options: CowriteProviderOptions) {
    this.doc = options.doc;
    this.docId = options.docId;
    this.url = options.url.replace(/\/+$/, "");
    this.token = options.token;
    this.ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness ?? new Awareness(options.doc);
    this.WebSocketImpl = options.WebSocketImpl ?? createFallbackWebSocket();
    this.backoff = options.backoff ?? defaultBackoff;
    this.saveProbeDelayMs = options.saveProbeDelayMs ?? defaultSaveProbeDelayMs;
    this.random = options.random ?? Math.random;
    this.isOnline = options.isOnline ?? (() => globalThis.navigator?.onLine ?? true);
    this.windowTarget =
      options.windowTarget !== undefined ? options.windowTarget : (globalThis.window ?? null);
    this.documentTarget =
      options.documentTarget !== undefined ? options.documentTarget : (globalThis.document ?? null);

    this.doc.on("update", this.onDocUpdate);
    this.awareness.on("update", this.onAwarenessUpdate);
    this.windowTarget?.addEventListener("online", this.onOnline);
    this.windowTarget?.addEventListener("offline", this.onOffline);
    this.windowTarget?.addEventListener("pagehide", this.onPageHide);
    this.windowTarget?.addEventListener("beforeunload", this.onPageHide);
    this.windowTarget?.addEventListener("pageshow", this.onPageShow);
    this.documentTarget?.addEventListener("visibilitychange", this.onVisibilityChange);

    if (options.connect ?? true) this.connect();
  }

  // ---- public API ---------------------------------------------------------

  /** True once the server's sync step 2 arrived on the current connection. */
  get synced(): boolean {
    return this.isSynced;
  }

  get connection(): ConnectionState {
    return this.connectionState;
  }

  get saved(): SavedState {
    return this.savedState;
  }

  // ---- HTTP fallback (issue 15): which transport the current socket uses ----
  /** "http" while the fallback carries the connection; "websocket" otherwise (and for sockets that do not say). */
  get transport(): Transport {
    return (this.socket as { transport?: Transport } | null)?.transport ?? "websocket";
  }

  on<K extends keyof ProviderEvents>(type: K, listener: ProviderEvents[K]): void {
    this.events.on(type, listener);
  }

  off<K extends keyof ProviderEvents>(type: K, listener: ProviderEvents[K]): void {
    this.events.off(type, listener);
  }

  connect(): void {
    if (this.destroyed) return;
    this.wantConnection = true;
    if (this.isAttemptUnderWay()) return;
    if (!this.isOnline()) {
      this.setConnection({ status: "offline" });
      return;
    }
    this.openSocket();
  }

  /** Closes the connection and stays disconnected until `connect()`. */
  disconnect(): void {
    this.wantConnection = false;
    this.clearReconnectTimer();
    this.pendingToken = null;
    if (this.socket !== null) {
      this.sendLocalAwarenessRemoval();
      this.closeSocket(CLOSE_NORMAL, "disconnected");
    }
    if (!this.destroyed)
      this.setConnection({ status: "stopped", code: CLOSE_NORMAL, reason: "Disconnected" });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.disconnect();
    this.destroyed = true;
    this.clearProbeTimer();
    this.doc.off("update", this.onDocUpdate);
    this.awareness.off("update", this.onAwarenessUpdate);
    this.windowTarget?.removeEventListener("online", this.onOnline);
    this.windowTarget?.removeEventListener("offline", this.onOffline);
    this.windowTarget?.removeEventListener("pagehide", this.onPageHide);
    this.windowTarget?.removeEventListener("beforeunload", this.onPageHide);
    this.windowTarget?.removeEventListener("pageshow", this.onPageShow);
    this.documentTarget?.removeEventListener("visibilitychange", this.onVisibilityChange);
    if (this.ownsAwareness) this.awareness.destroy();
    this.events.clear();
  }

  // ---- socket lifecycle ---------------------------------------------------

  /** A socket exists, a retry is scheduled, or a token is being fetched. */
  private isAttemptUnderWay(): boolean {
    return this.socket !== null || this.reconnectTimer !== null || this.pendingToken !== null;
  }

  private openSocket(): void {
    this.clearReconnectTimer();
    if (this.everConnected || this.attempt > 0) {
      this.setConnection({ status: "reconnecting", attempt: this.attempt, retryAt: null });
    } else {
      this.setConnection({ status: "connecting" });
    }
    this.events.emit("status", { status: "connecting" });

    const token = this.readToken();
    if (typeof token === "string") {
      this.createSocket(token);
      return;
    }
    const request = {};
    this.pendingToken = request;
    token.then(
      (value) => {
        if (this.pendingToken !== request) return;
        this.pendingToken = null;
        if (this.destroyed || !this.wantConnection) return;
        this.createSocket(value);
      },
      (error: unknown) => {
        if (this.pendingToken !== request) return;
        this.pendingToken = null;
        if (this.destroyed || !this.wantConnection) return;
        // Whatever supplies tokens may be briefly unreachable: a failed attempt, retried.
        console.warn("[cowrite] could not get an access token", error);
        this.scheduleReconnect();
      },
    );
  }

  /** The token for this attempt; a function that throws counts as one whose promise rejects. */
  private readToken(): string | Promise<string> {
    if (typeof this.token !== "function") return this.token ?? "";
    try {
      return this.token();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private createSocket(token: string): void {
    const url = `${this.url}/${encodeURIComponent(this.docId)}`;
    let socket: WebSocket;
    if (token === "") socket = new this.WebSocketImpl(url);
    else if (subprotocolChars.test(token)) {
      socket = new this.WebSocketImpl(url, [WS_SUBPROTOCOL, `${WS_TOKEN_PROTOCOL_PREFIX}${token}`]);
    } else socket = new this.WebSocketImpl(`${url}?token=${encodeURIComponent(token)}`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    // Each handler checks it still belongs to the current socket: a replaced
    // socket may deliver late events.
    socket.onopen = () => {
      if (this.socket === socket) this.handleOpen();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket === socket) this.handleMessage(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket === socket) this.handleClosed(event.code, event.reason);
    };
    // An error is always followed by a close event, which does the work.
    socket.onerror = null;
  }

  private handleOpen(): void {
    this.everConnected = true;
    this.probes = [];
    // Updates sent on an earlier socket are not known to be saved; the step 2
    // we send in reply to the server's step 1 will carry whatever it lacks.
    this.sentSeq = this.savedSeq;
    this.setConnection({ status: "connected" });
    this.events.emit("status", { status: "connected" });
    this.sendSyncStep1();
    const state = this.awareness.getLocalState();
    if (state !== null) {
      // Announced with its clock moved on (setLocalState does that, and our
      // update listener sends it): a server, or another node of a cluster,
      // that removed our state when the last socket went keeps its clock and
      // takes only a newer one, so the same clock would leave us invisible
      // until the next renewal, 15 s later.
      this.awareness.setLocalState(state);
    }
    this.updateSavedState();
  }

  private handleMessage(data: unknown): void {
    let frame: Frame;
    try {
      frame = decodeFrame(toBytes(data));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failConnection(error.message);
      return;
    }
    try {
      this.handleFrame(frame);
    } catch (error) {
      // Yjs or y-protocols rejected a payload that parsed as a frame: the
      // server sent garbage. Drop the connection instead of carrying on with
      // a half-applied state; a fresh sync will repair it.
      this.failConnection(`bad ${frame.type} payload: ${(error as Error).message}`);
    }
  }

  private handleFrame(frame: Frame): void {
    switch (frame.type) {
      case "sync-step-1":
        this.send({
          type: "sync-step-2",
          update: Y.encodeStateAsUpdate(this.doc, frame.stateVector),
        });
        // That step 2 carried every local edit the server lacked.
        this.sentSeq = this.localSeq;
        if (this.savedSeq < this.localSeq) this.scheduleProbe();
        break;
      case "sync-step-2":
        Y.applyUpdate(this.doc, frame.update, this);
        this.confirmProbe();
        if (!this.isSynced) {
          this.isSynced = true;
          this.attempt = 0;
          this.events.emit("sync", true);
        }
        break;
      case "update":
        Y.applyUpdate(this.doc, frame.update, this);
        break;
      case "awareness":
        applyAwarenessUpdate(this.awareness, frame.update, this);
        break;
      case "query-awareness":
        this.send({
          type: "awareness",
          update: encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]),
        });
        break;
      case "permission-denied":
        this.events.emit("permission-denied", frame.reason);
        break;
    }
  }

  /** The server sent something we cannot parse: close with 4400 and retry. */
  private failConnection(reason: string): void {
    console.warn(`[cowrite] closing connection: ${reason}`);
    this.closeSocket(CLOSE_BAD_FRAME, reason.slice(0, 120));
  }

  /**
   * Closes the current socket ourselves and runs the close handling at once.
   * `goOffline` closes because the browser lost the network: wait for `online`.
   */
  private closeSocket(code: number, reason: string, goOffline = false): void {
    const socket = this.socket;
    if (socket === null) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(code, reason);
    } catch {
      // close() throws only for invalid codes/reasons; the socket is dropped either way.
    }
    this.handleClosed(code, reason, goOffline);
  }

  private handleClosed(code: number, reason: string, goOffline = false): void {
    this.socket = null;
    this.probes = [];
    this.clearProbeTimer();
    if (this.isSynced) {
      this.isSynced = false;
      this.events.emit("sync", false);
    }
    // Peers seen through this connection are unknown now; drop their carets
    // rather than leave them frozen until the 30 s awareness timeout.
    const remoteClients = [...this.awareness.getStates().keys()].filter(
      (client) => client !== this.awareness.clientID,
    );
    removeAwarenessStates(this.awareness, remoteClients, this);
    this.events.emit("status", { status: "disconnected" });
    this.updateSavedState();

    if (this.destroyed || !this.wantConnection) return;
    if (goOffline) {
      this.setConnection({ status: "offline" });
      return;
    }
    if (!shouldReconnect(code) && !this.canRefreshToken(code, reason)) {
      this.wantConnection = false;
      this.setConnection({
        status: "stopped",
        code,
        reason: reason || describeCloseCode(code)?.reason || `connection closed (${code})`,
      });
      return;
    }
    if (!this.isOnline()) {
      this.setConnection({ status: "offline" });
      return;
    }
    this.scheduleReconnect();
  }

  /** An expired token is worth another attempt only if a fresh one can be asked for. */
  private canRefreshToken(code: number, reason: string): boolean {
    return (
      code === CLOSE_UNAUTHENTICATED &&
      reason === TOKEN_EXPIRED_REASON &&
      typeof this.token === "function"
    );
  }

  private scheduleReconnect(): void {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** this.attempt);
    // Full jitter: spreads a crowd of clients reconnecting after a server restart.
    const delay = Math.floor(this.random() * ceiling);
    this.attempt += 1;
    this.setConnection({
      status: "reconnecting",
      attempt: this.attempt,
      retryAt: Date.now() + delay,
    });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openSocket();
    }, delay);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private send(frame: Frame): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WS_OPEN) return false;
    socket.send(encodeFrame(frame));
    return true;
  }

  private sendSyncStep1(): void {
    if (this.send({ type: "sync-step-1", stateVector: Y.encodeStateVector(this.doc) })) {
      this.probes.push(this.sentSeq);
    }
  }

  /** Tells peers our caret is gone without changing our own local state. */
  private sendLocalAwarenessRemoval(): void {
    const { clientID } = this.awareness;
    if (!this.awareness.meta.has(clientID)) return;
    // Encoding our current clock with a null state makes receivers drop us.
    this.send({
      type: "awareness",
      update: encodeAwarenessUpdate(this.awareness, [clientID], new Map()),
    });
  }

  private setConnection(state: ConnectionState): void {
    this.connectionState = state;
    this.events.emit("connection", state);
  }

  // ---- saved tracking -----------------------------------------------------

  private scheduleProbe(): void {
    this.clearProbeTimer();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.savedSeq < this.localSeq) this.sendSyncStep1();
    }, this.saveProbeDelayMs);
  }

  private clearProbeTimer(): void {
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private confirmProbe(): void {
    const covered = this.probes.shift();
    if (covered !== undefined && covered > this.savedSeq) this.savedSeq = covered;
    this.updateSavedState();
  }

  private updateSavedState(): void {
    let next: SavedState;
    if (this.savedSeq >= this.localSeq) next = "saved";
    else if (this.socket !== null && this.socket.readyState === WS_OPEN) next = "saving";
    else next = "unsaved";
    if (next === this.savedState) return;
    this.savedState = next;
    this.events.emit("saved", next);
  }

  // ---- listeners (arrow properties so they can be removed) ----------------

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return;
    this.localSeq += 1;
    if (this.send({ type: "update", update })) {
      // Frames on one socket are handled in order, so this update precedes
      // any later probe.
      this.sentSeq = this.localSeq;
    }
    this.updateSavedState();
    if (this.socket !== null) this.scheduleProbe();
  };

  private readonly onAwarenessUpdate = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) return;
    // Only our own state is ours to announce; timeouts of remote peers are
    // decided by every client (and the server) independently.
    const { clientID } = this.awareness;
    const changed = [...changes.added, ...changes.updated, ...changes.removed];
    if (!changed.includes(clientID)) return;
    this.send({ type: "awareness", update: encodeAwarenessUpdate(this.awareness, [clientID]) });
  };

  private readonly onOnline = (): void => {
    if (!this.wantConnection || this.socket !== null || this.pendingToken !== null) return;
    // The network is back: skip whatever backoff was pending.
    this.attempt = 0;
    this.clearReconnectTimer();
    this.openSocket();
  };

  private readonly onOffline = (): void => {
    this.clearReconnectTimer();
    // A token still being fetched would open a socket into a dead network; `online` starts over.
    this.pendingToken = null;
    if (this.socket !== null) {
      // The socket would only find out after a long TCP timeout.
      this.closeSocket(CLOSE_NORMAL, "offline", true);
    } else if (this.wantConnection) {
      this.setConnection({ status: "offline" });
    }
  };

  private readonly onPageHide = (event: Event): void => {
    const state = this.awareness.getLocalState();
    if (state === null) return;
    this.stashedLocalState = state;
    // Sends a null state at once, so peers drop our caret instead of showing
    // a ghost for 30 s.
    this.awareness.setLocalState(null);
    // The page may still ask "leave?" (unsaved edits) and the user may stay:
    // a page still here once that is answered is present again. (Timers do
    // not run while the question is open, nor after the page is gone.)
    if (event.type === "beforeunload") setTimeout(this.onStayed, 0);
  };

  private readonly onStayed = (): void => {
    if (this.destroyed || this.stashedLocalState === null) return;
    this.awareness.setLocalState(this.stashedLocalState);
    this.stashedLocalState = null;
  };

  private readonly onPageShow = (event: Event): void => {
    // Back from the back/forward cache: the page is alive again.
    if (!(event as PageTransitionEvent).persisted || this.stashedLocalState === null) return;
    this.awareness.setLocalState(this.stashedLocalState);
    this.stashedLocalState = null;
  };

  private readonly onVisibilityChange = (): void => {
    if (this.documentTarget?.visibilityState !== "hidden") return;
    const state = this.awareness.getLocalState();
    // Hide our caret while the tab is in the background; the editor's focus
    // event sets `focusing` again when the user comes back.
    if (state !== null && state.focusing === true) {
      this.awareness.setLocalStateField("focusing", false);
    }
  };
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolError("expected a binary message");
}
