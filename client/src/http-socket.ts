/**
 * HttpSocket: the part of the browser's WebSocket that CowriteProvider uses,
 * carried over plain HTTP requests (PROTOCOL.md §7), for networks whose
 * proxies strip `Upgrade` or cut long-lived sockets.
 *
 * Contract:
 * - `new HttpSocket("ws://host/ws/<docId>", protocols)` talks to
 *   `http://host/http/<docId>` (wss → https). The token comes from the
 *   `cowrite-token.<t>` subprotocol or `?token=` and travels as
 *   `Authorization: Bearer`.
 * - `open` once the server made a session. Then one poll at a time, each
 *   asking for the frames after the last position received; a failed poll
 *   is asked again (same position, nothing lost or doubled) a few times.
 * - `send` queues frames; one POST at a time carries everything queued, in
 *   order.
 * - `close` events carry the server's code and reason (from the poll that
 *   ends the session). A lost session (404), a failed post or a server that
 *   stays unreachable is 1006, as a dropped WebSocket would be: the
 *   provider reconnects and Yjs sync resends what may be missing.
 * - `close()` sends what is queued, then ends the session (DELETE).
 */
import {
  decodeFrameBatch,
  encodeFrameBatch,
  HTTP_CLOSE_CODE_HEADER,
  HTTP_CLOSE_REASON_HEADER,
  HTTP_NEXT_POSITION_HEADER,
  HTTP_SHARED_SEGMENT,
  HTTP_TRANSPORT_PATH,
  MUX_SUBPROTOCOL,
  WS_TOKEN_PROTOCOL_PREFIX,
} from "@cowrite/shared";

/** A dropped connection, as browsers report it. */
const CLOSE_ABNORMAL = 1006;
/** POST bodies up to this size go out with `keepalive` (see pump()). */
const keepaliveMaxBytes = 8 * 1024;

export interface HttpSocketOptions {
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Attempts of one poll before the socket counts as dropped (default 3). */
  pollAttempts?: number;
  /** Wait before re-asking a failed poll, times the attempt (default 500 ms). */
  retryDelayMs?: number;
  /** How long the server may hold a poll at first (default 25 s, the server's maximum). */
  pollWaitMs?: number;
}

/** What the provider reads from a close event. */
export interface HttpCloseEvent {
  type: "close";
  code: number;
  reason: string;
  wasClean: boolean;
}

export class HttpSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly url: string;
  /** As FallbackSocket's: which transport this is. */
  readonly transport = "http";
  /** The subprotocol the server selected: `cowrite-mux.1` for a shared session, else "". */
  protocol = "";
  readonly extensions = "";
  /** Messages are always delivered as ArrayBuffers. */
  binaryType: BinaryType = "arraybuffer";
  readyState = HttpSocket.CONNECTING;
  /** Bytes queued by `send` and not yet accepted by the server. */
  bufferedAmount = 0;
  onopen: ((event: { type: "open" }) => void) | null = null;
  onmessage: ((event: { type: "message"; data: ArrayBuffer }) => void) | null = null;
  onclose: ((event: HttpCloseEvent) => void) | null = null;
  onerror: ((event: { type: "error" }) => void) | null = null;

  private readonly fetch: typeof fetch;
  private readonly pollAttempts: number;
  private readonly retryDelayMs: number;
  private readonly endpoint: string;
  private readonly token: string | null;
  private session: string | null = null;
  private position = 0;
  /** How long we let the server hold a poll; halved when something cuts held polls. */
  private pollWaitMs: number;
  private outbox: Uint8Array[] = [];
  private posting: Promise<void> | null = null;
  private readonly aborter = new AbortController();

  constructor(url: string, protocols?: string | string[], options: HttpSocketOptions = {}) {
    this.url = url;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.pollAttempts = options.pollAttempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.pollWaitMs = options.pollWaitMs ?? 25_000;
    const target = httpTargetOf(url, protocols);
    this.endpoint = target.endpoint;
    this.token = target.token;
    // Like a WebSocket: events only after the constructor returned.
    queueMicrotask(() => void this.start());
  }

  send(data: ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState === HttpSocket.CONNECTING) {
      throw new DOMException("still connecting", "InvalidStateError");
    }
    if (this.readyState !== HttpSocket.OPEN) return;
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
      : new Uint8Array(data).slice();
    this.outbox.push(bytes);
    this.bufferedAmount += bytes.byteLength;
    this.pump();
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === HttpSocket.CLOSING || this.readyState === HttpSocket.CLOSED) return;
    const wasOpen = this.readyState === HttpSocket.OPEN;
    this.readyState = HttpSocket.CLOSING;
    void this.end(wasOpen).finally(() => this.finish(code, reason, true));
  }

  // ---- session ------------------------------------------------------------

  private async start(): Promise<void> {
    let session: string;
    try {
      const res = await this.fetch(this.endpoint, {
        method: "POST",
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: this.aborter.signal,
        cache: "no-store",
      });
      if (res.status !== 201) throw new Error(`opening a session: HTTP ${res.status}`);
      const opened = (await res.json()) as { session: string; protocol?: string };
      session = opened.session;
      // A server that speaks the shared connection over HTTP says so; one
      // that does not leaves it empty, and the caller gives up on it.
      if (typeof opened.protocol === "string") this.protocol = opened.protocol;
    } catch {
      this.fail();
      return;
    }
    if (this.readyState !== HttpSocket.CONNECTING) return;
    this.session = `${this.endpoint}/${encodeURIComponent(session)}`;
    this.readyState = HttpSocket.OPEN;
    this.onopen?.({ type: "open" });
    void this.pollLoop();
  }

  private async pollLoop(): Promise<void> {
    let failures = 0;
    while (this.readyState === HttpSocket.OPEN || this.readyState === HttpSocket.CLOSING) {
      let res: Response;
      const askedAt = Date.now();
      try {
        res = await this.fetch(`${this.session}?pos=${this.position}&wait=${this.pollWaitMs}`, {
          signal: this.aborter.signal,
          cache: "no-store",
        });
      } catch {
        if (this.readyState !== HttpSocket.OPEN) return;
        // A proxy cutting a held request is what this transport is for: ask
        // again, for shorter holds from now on.
        if (this.shortenPolls(Date.now() - askedAt)) continue;
        if (++failures >= this.pollAttempts) return this.fail();
        await delay(this.retryDelayMs * failures);
        continue;
      }
      if (res.status === 404) return this.fail();
      if (res.status !== 200) {
        await res.body?.cancel();
        // E.g. a proxy's 504 for a request it thought took too long.
        if (this.shortenPolls(Date.now() - askedAt)) continue;
        if (++failures >= this.pollAttempts) return this.fail();
        await delay(this.retryDelayMs * failures);
        continue;
      }
      failures = 0;
      let body: Uint8Array;
      try {
        body = new Uint8Array(await res.arrayBuffer());
      } catch {
        if (this.readyState !== HttpSocket.OPEN) return;
        if (++failures >= this.pollAttempts) return this.fail();
        continue;
      }
      if (this.readyState !== HttpSocket.OPEN) return;
      // Something on the way (a captive portal, a proxy's error page)
      // answered instead of the server: treat it as a dropped connection.
      const nextHeader = res.headers.get(HTTP_NEXT_POSITION_HEADER);
      const next = nextHeader === null ? Number.NaN : Number(nextHeader);
      let frames: Uint8Array[];
      try {
        if (!Number.isSafeInteger(next) || next < this.position) throw new Error("no position");
        frames = decodeFrameBatch(body);
      } catch {
        return this.fail();
      }
      for (const frame of frames) {
        if (this.readyState !== HttpSocket.OPEN) return;
        this.onmessage?.({ type: "message", data: frame.slice().buffer });
      }
      this.position = next;
      const code = res.headers.get(HTTP_CLOSE_CODE_HEADER);
      if (code !== null) {
        const reason = decodeURIComponent(res.headers.get(HTTP_CLOSE_REASON_HEADER) ?? "");
        this.readyState = HttpSocket.CLOSING;
        this.aborter.abort();
        this.finish(Number(code), reason, true);
        return;
      }
    }
  }

  /**
   * A poll that failed after being held `heldMs` was probably cut by
   * something on the way: hold the next ones for half as long (not under
   * 1 s). Whether that was worth a retry without counting a failure.
   */
  private shortenPolls(heldMs: number): boolean {
    if (heldMs < 1_000 || this.pollWaitMs <= 1_000) return false;
    this.pollWaitMs = Math.max(1_000, Math.floor(Math.min(this.pollWaitMs, heldMs) / 2));
    return true;
  }

  /** One POST at a time, carrying everything queued, so frames arrive in order. */
  private pump(): void {
    if (this.posting || this.outbox.length === 0 || this.session === null) return;
    const frames = this.outbox;
    this.outbox = [];
    const size = frames.reduce((sum, frame) => sum + frame.byteLength, 0);
    const body = encodeFrameBatch(frames) as Uint8Array<ArrayBuffer>;
    this.posting = this.fetch(this.session, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body,
      signal: this.aborter.signal,
      cache: "no-store",
      // So that what a closing page sends last (its presence removal) still
      // arrives. Browsers cap all keepalive bodies of a page together at
      // 64 KiB, and a page may hold several sockets: small ones only.
      keepalive: body.byteLength < keepaliveMaxBytes,
    }).then(
      async (res) => {
        await res.body?.cancel();
        this.bufferedAmount -= size;
        this.posting = null;
        if (res.ok) this.pump();
        // 413/400: the server closed the session (1009/4400); the poll brings that close.
        else if (res.status === 413 || res.status === 400) return;
        // 404 (session gone), or a 5xx from the server or a proxy: whether
        // the frames arrived is unknown, so this connection is dropped and
        // a new session resyncs. Going on would let a later "saved"
        // receipt cover frames the server never got.
        else this.fail();
      },
      () => {
        this.posting = null;
        // Whether the server got them is unknown: a new session resyncs.
        if (this.readyState === HttpSocket.OPEN) this.fail();
      },
    );
  }

  /** Sends what is queued, then ends the session; never throws. */
  private async end(wasOpen: boolean): Promise<void> {
    if (!wasOpen || this.session === null) {
      this.aborter.abort();
      return;
    }
    // Queued frames (e.g. the provider's last awareness removal) go first.
    while (this.posting || this.outbox.length > 0) {
      if (!this.posting) {
        const body = encodeFrameBatch(this.outbox) as Uint8Array<ArrayBuffer>;
        this.outbox = [];
        this.posting = this.fetch(this.session, {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body,
          // Outlives the page (a close on unload); see pump() for the cap.
          keepalive: body.byteLength < keepaliveMaxBytes,
        }).then(
          () => {
            this.posting = null;
          },
          () => {
            this.posting = null;
          },
        );
      }
      await this.posting;
    }
    this.aborter.abort();
    await this.fetch(this.session, { method: "DELETE", keepalive: true }).catch(() => {});
  }

  /** Dropped without a close from the server: 1006, like a WebSocket. */
  private fail(): void {
    if (this.readyState === HttpSocket.CLOSED) return;
    this.readyState = HttpSocket.CLOSING;
    this.aborter.abort();
    this.onerror?.({ type: "error" });
    this.finish(CLOSE_ABNORMAL, "", false);
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === HttpSocket.CLOSED) return;
    this.readyState = HttpSocket.CLOSED;
    this.outbox = [];
    this.bufferedAmount = 0;
    this.onclose?.({ type: "close", code, reason, wasClean });
  }
}

/**
 * `ws[s]://host/base/ws/<docId>?token=t` → `http[s]://host/base/http/<docId>`
 * and the token (the subprotocol's wins, as on the WebSocket).
 */
export function httpTargetOf(
  url: string,
  protocols?: string | string[],
): { endpoint: string; token: string | null } {
  const parsed = new URL(url);
  if (parsed.protocol === "ws:") parsed.protocol = "http:";
  else if (parsed.protocol === "wss:") parsed.protocol = "https:";
  const offered = typeof protocols === "string" ? [protocols] : (protocols ?? []);
  const fromProtocol = offered.find((protocol) => protocol.startsWith(WS_TOKEN_PROTOCOL_PREFIX));
  const token =
    fromProtocol?.slice(WS_TOKEN_PROTOCOL_PREFIX.length) ?? parsed.searchParams.get("token");
  const segments = parsed.pathname.split("/");
  if (offered.includes(MUX_SUBPROTOCOL)) {
    // A shared connection (`.../ws`): `.../http/~`.
    segments[segments.length - 1] = HTTP_TRANSPORT_PATH.slice(1);
    segments.push(HTTP_SHARED_SEGMENT);
  } else if (segments.length >= 3) {
    // The segment before the document id names the transport.
    segments[segments.length - 2] = HTTP_TRANSPORT_PATH.slice(1);
  }
  return { endpoint: `${parsed.origin}${segments.join("/")}`, token: token || null };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
