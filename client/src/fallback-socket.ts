/**
 * A WebSocket constructor that falls back to HTTP (HttpSocket) when a
 * WebSocket cannot be opened, and moves back once one can.
 *
 * Contract:
 * - Each socket first tries a real WebSocket. If it fails before opening,
 *   or has not opened within `openTimeoutMs`, the same URL and protocols go
 *   to an HttpSocket instead. Once an HttpSocket has opened, later sockets
 *   of the same constructor skip the WebSocket attempt (it would only cost
 *   the wait each time).
 * - While on HTTP it probes with a WebSocket in the background (after each
 *   of `probeDelaysMs`, the last one repeating). When a probe opens, the
 *   probe is closed and the HTTP socket closes with 1001 "moving to
 *   WebSocket": the provider reconnects (over WebSocket now) and its sync
 *   sends whatever the server lacks, so no edit is lost.
 * - `transport` tells which one a socket uses.
 * State (the mode, the probe) lives in the constructor, one per provider.
 */
import { CLOSE_GOING_AWAY } from "@cowrite/shared";
import { HttpSocket, type HttpSocketOptions } from "./http-socket.ts";

export type Transport = "websocket" | "http";

/** What FallbackSocket needs of a WebSocket (the browser's, or a test's). */
export type WebSocketLike = Pick<
  WebSocket,
  | "readyState"
  | "binaryType"
  | "protocol"
  | "send"
  | "close"
  | "onopen"
  | "onmessage"
  | "onclose"
  | "onerror"
>;
export type WebSocketLikeConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

export interface FallbackOptions {
  /** Defaults to globalThis.WebSocket (read when a socket is made). */
  WebSocket?: WebSocketLikeConstructor;
  /** Passed to HttpSocket (e.g. a fetch for tests). */
  http?: HttpSocketOptions;
  /** A WebSocket not open by then counts as failed (default 3 s). */
  openTimeoutMs?: number;
  /** Waits between probes while on HTTP; the last repeats (default 10, 20, 30 s). */
  probeDelaysMs?: readonly number[];
}

export type FallbackWebSocketConstructor = new (
  url: string,
  protocols?: string[],
) => WebSocket & { readonly transport: Transport };

interface Shared {
  mode: Transport;
  probes: number;
  /** The socket currently on HTTP, which a successful probe moves back. */
  onHttp: FallbackSocket | null;
  probeTimer: ReturnType<typeof setTimeout> | null;
  probe: WebSocketLike | null;
  options: Required<Omit<FallbackOptions, "WebSocket" | "http">> & FallbackOptions;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export function createFallbackWebSocket(
  options: FallbackOptions = {},
): FallbackWebSocketConstructor {
  const shared: Shared = {
    mode: "websocket",
    probes: 0,
    onHttp: null,
    probeTimer: null,
    probe: null,
    options: {
      openTimeoutMs: 3_000,
      probeDelaysMs: [10_000, 20_000, 30_000],
      ...options,
    },
  };
  return class extends FallbackSocket {
    constructor(url: string, protocols?: string[]) {
      super(shared, url, protocols);
    }
  } as unknown as FallbackWebSocketConstructor;
}

class FallbackSocket {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly url: string;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  private readonly shared: Shared;
  private readonly protocols: string[] | undefined;
  private inner: WebSocketLike | HttpSocket | null = null;
  private attempt: WebSocketLike | null = null;
  private attemptTimer: ReturnType<typeof setTimeout> | null = null;
  private type: BinaryType = "arraybuffer";
  private closed = false;

  constructor(shared: Shared, url: string, protocols?: string[]) {
    this.shared = shared;
    this.url = url;
    this.protocols = protocols;
    if (shared.mode === "http") this.switchToHttp();
    else this.tryWebSocket();
  }

  get transport(): Transport {
    return this.inner instanceof HttpSocket ? "http" : "websocket";
  }

  get readyState(): number {
    if (this.closed) return this.inner?.readyState ?? CLOSED;
    return this.inner?.readyState ?? CONNECTING;
  }

  /** The subprotocol the server selected, over either transport. */
  get protocol(): string {
    return this.inner?.protocol ?? "";
  }

  get bufferedAmount(): number {
    return (this.inner as { bufferedAmount?: number } | null)?.bufferedAmount ?? 0;
  }

  get binaryType(): BinaryType {
    return this.type;
  }

  set binaryType(value: BinaryType) {
    this.type = value;
    if (this.inner && !(this.inner instanceof HttpSocket)) this.inner.binaryType = value;
    if (this.attempt) this.attempt.binaryType = value;
  }

  send(data: ArrayBufferLike | ArrayBufferView): void {
    if (!this.inner) throw new DOMException("still connecting", "InvalidStateError");
    this.inner.send(data as ArrayBuffer);
  }

  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelAttempt();
    if (this.shared.onHttp === this) this.leaveHttp();
    this.inner?.close(code, reason);
  }

  /** A successful probe: close the HTTP session so the provider reconnects over WebSocket. */
  moveBack(): void {
    if (this.closed || !(this.inner instanceof HttpSocket)) return;
    const inner = this.inner;
    inner.onclose = null;
    this.close(CLOSE_GOING_AWAY, "moving to WebSocket");
    this.onclose?.({ type: "close", code: CLOSE_GOING_AWAY, reason: "moving to WebSocket" });
  }

  private tryWebSocket(): void {
    const Impl = this.shared.options.WebSocket ?? globalThis.WebSocket;
    let ws: WebSocketLike;
    try {
      ws = new Impl(this.url, this.protocols);
    } catch {
      this.switchToHttp();
      return;
    }
    ws.binaryType = this.type;
    this.attempt = ws;
    const giveUp = () => {
      if (this.attempt !== ws) return;
      this.cancelAttempt();
      this.switchToHttp();
    };
    ws.onopen = (event) => {
      if (this.attempt !== ws) return;
      this.clearAttemptTimer();
      this.attempt = null;
      this.inner = ws;
      ws.onmessage = (message) => this.onmessage?.(message);
      ws.onclose = (close) => this.onclose?.(close);
      ws.onerror = (error) => this.onerror?.(error);
      this.onopen?.(event);
    };
    ws.onerror = giveUp;
    ws.onclose = giveUp;
    this.attemptTimer = setTimeout(giveUp, this.shared.options.openTimeoutMs);
  }

  private cancelAttempt(): void {
    this.clearAttemptTimer();
    const ws = this.attempt;
    this.attempt = null;
    if (!ws) return;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    try {
      ws.close();
    } catch {
      // A socket still connecting may refuse; it is dropped either way.
    }
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer !== null) clearTimeout(this.attemptTimer);
    this.attemptTimer = null;
  }

  private switchToHttp(): void {
    if (this.closed) return;
    const http = new HttpSocket(this.url, this.protocols, this.shared.options.http);
    this.inner = http;
    http.onopen = (event) => {
      this.shared.mode = "http";
      this.shared.onHttp = this;
      scheduleProbe(this.shared, this.url, this.protocols);
      this.onopen?.(event);
    };
    http.onmessage = (event) => this.onmessage?.(event);
    http.onerror = (event) => this.onerror?.(event);
    http.onclose = (event) => {
      if (this.shared.onHttp === this) this.leaveHttp();
      this.onclose?.(event);
    };
  }

  private leaveHttp(): void {
    this.shared.onHttp = null;
    stopProbing(this.shared);
  }
}

function scheduleProbe(shared: Shared, url: string, protocols: string[] | undefined): void {
  stopProbing(shared);
  const delays = shared.options.probeDelaysMs;
  const wait = delays[Math.min(shared.probes, delays.length - 1)] ?? 30_000;
  shared.probeTimer = setTimeout(() => {
    shared.probeTimer = null;
    const Impl = shared.options.WebSocket ?? globalThis.WebSocket;
    let probe: WebSocketLike;
    try {
      probe = new Impl(url, protocols);
    } catch {
      shared.probes++;
      scheduleProbe(shared, url, protocols);
      return;
    }
    shared.probe = probe;
    const failed = () => {
      if (shared.probe !== probe) return;
      endProbe(shared);
      shared.probes++;
      if (shared.onHttp) scheduleProbe(shared, url, protocols);
    };
    const timer = setTimeout(failed, shared.options.openTimeoutMs);
    probe.onopen = () => {
      clearTimeout(timer);
      if (shared.probe !== probe) return;
      endProbe(shared);
      shared.mode = "websocket";
      shared.probes = 0;
      shared.onHttp?.moveBack();
    };
    probe.onerror = () => {
      clearTimeout(timer);
      failed();
    };
    probe.onclose = () => {
      clearTimeout(timer);
      failed();
    };
  }, wait);
}

/** Closes the probe in progress, if any (it served its purpose or failed). */
function endProbe(shared: Shared): void {
  const probe = shared.probe;
  shared.probe = null;
  if (!probe) return;
  probe.onopen = null;
  probe.onerror = null;
  probe.onclose = null;
  try {
    if (probe.readyState === OPEN || probe.readyState === CONNECTING) probe.close(1000, "probe");
  } catch {
    // Closing a socket still connecting may throw; it is dropped either way.
  }
}

function stopProbing(shared: Shared): void {
  if (shared.probeTimer !== null) clearTimeout(shared.probeTimer);
  shared.probeTimer = null;
  endProbe(shared);
}
