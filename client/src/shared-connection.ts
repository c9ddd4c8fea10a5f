/**
 * One WebSocket for every editor on a page (PROTOCOL.md §8): the shared
 * connection opens `<url>` (e.g. ws://host/ws) with the `cowrite-mux.1`
 * subprotocol and carries each document as a numbered channel.
 *
 * Contract:
 * - `WebSocketImpl` is what a CowriteProvider takes as its WebSocket
 *   constructor: each "socket" it makes is a channel of this connection,
 *   addressed by the document id at the end of the URL it is given, with
 *   the token the provider offers (subprotocol or `?token=`). So providers
 *   keep their reconnect, auth and close-code handling unchanged: a channel
 *   opens, carries frames and closes with the code and reason a socket of
 *   its own would have.
 * - The socket opens with the first channel and closes `idleCloseMs` after
 *   the last one ends. When it drops, every channel closes with its code
 *   (1006 if there was none), and the providers reconnect as they would.
 * - A server that does not speak the shared connection (the socket fails
 *   before opening, three times in a row, or opens without selecting the
 *   subprotocol), or a network that lets no upgrade through in time (not
 *   open within `openTimeoutMs`), gets sockets of their own from
 *   `fallback` for a minute.
 */
import {
  decodeMuxMessage,
  encodeMuxMessage,
  MUX_SUBPROTOCOL,
  type MuxMessage,
  ProtocolError,
  WS_TOKEN_PROTOCOL_PREFIX,
} from "@cowrite/shared";
import type { WebSocketConstructor } from "./provider.ts";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const CLOSE_ABNORMAL = 1006;
/** Failures before opening, in a row, after which the server is taken not to speak it. */
const failuresBeforeFallback = 3;
const fallbackForMs = 60_000;

export interface SharedConnectionOptions {
  /** The WebSocket base URL the editors use, e.g. `ws://host/ws`. */
  url: string;
  WebSocketImpl?: WebSocketConstructor;
  /** Sockets of their own, while the server does not speak the shared connection. */
  fallback?: WebSocketConstructor;
  /** How long the socket stays open after its last channel ended (default 1 s). */
  idleCloseMs?: number;
  /**
   * A socket not open by then is given up for the fallback (default 3 s):
   * a proxy that swallows upgrades would otherwise hold every editor of the
   * page at "connecting" until the browser's TCP timeout.
   */
  openTimeoutMs?: number;
  /** Injected for tests; defaults to Date.now. */
  now?: () => number;
}

export class SharedConnection {
  /** Pass as a provider's `WebSocketImpl`: its sockets are channels of this connection. */
  readonly WebSocketImpl: WebSocketConstructor;
  private readonly url: string;
  private readonly Socket: WebSocketConstructor;
  private readonly fallback: WebSocketConstructor;
  private readonly idleCloseMs: number;
  private readonly openTimeoutMs: number;
  private readonly now: () => number;
  private readonly channels = new Map<number, Channel>();
  private socket: WebSocket | null = null;
  private nextChannel = 1;
  private failures = 0;
  private fallbackUntil = 0;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: SharedConnectionOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.Socket = options.WebSocketImpl ?? globalThis.WebSocket;
    this.fallback = options.fallback ?? this.Socket;
    this.idleCloseMs = options.idleCloseMs ?? 1000;
    this.openTimeoutMs = options.openTimeoutMs ?? 3000;
    this.now = options.now ?? Date.now;
    // A plain function, so that `new` returns whatever it returns: a channel,
    // or a socket of its own from the fallback.
    const open = (url: string, protocols?: string[]): WebSocket => this.open(url, protocols);
    this.WebSocketImpl = function SharedChannel(url: string, protocols?: string[]) {
      return open(url, protocols);
    } as unknown as WebSocketConstructor;
  }

  /** Channels open or opening. */
  get channelCount(): number {
    return this.channels.size;
  }

  /** Whether the shared socket is open. */
  get isOpen(): boolean {
    return this.socket?.readyState === OPEN && this.socket.protocol === MUX_SUBPROTOCOL;
  }

  /** Closes the socket and every channel (with 1000); later channels open a new one. */
  close(): void {
    this.clearIdleTimer();
    const socket = this.socket;
    if (socket === null) return;
    this.detach(socket);
    socket.close(1000, "closed");
    this.endAll(1000, "closed");
  }

  // ---- internals -------------------------------------------------------------

  /** What channels may do to their connection (kept out of the public API). */
  private readonly link: ChannelLink = {
    send: (message) => {
      if (this.isOpen) this.socket?.send(encodeMuxMessage(message));
    },
    ended: (channel) => {
      if (this.channels.get(channel.number) !== channel) return;
      this.channels.delete(channel.number);
      if (this.channels.size === 0) this.scheduleIdleClose();
    },
  };

  private open(url: string, protocols: string[] = []): WebSocket {
    if (this.now() < this.fallbackUntil) return new this.fallback(url, protocols);
    const { docId, token } = addressOf(url, protocols);
    const channel = new Channel(this.link, this.nextChannel++, url, docId, token);
    this.channels.set(channel.number, channel);
    this.clearIdleTimer();
    if (this.isOpen) queueMicrotask(() => channel.start());
    else this.connect();
    return channel as unknown as WebSocket;
  }

  private connect(): void {
    if (this.socket !== null) return;
    const socket = new this.Socket(this.url, [MUX_SUBPROTOCOL]);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let opened = false;
    const openTimer = setTimeout(() => {
      if (this.socket === socket && !opened) this.giveUp(socket);
    }, this.openTimeoutMs);
    socket.onopen = () => {
      clearTimeout(openTimer);
      if (socket.protocol !== MUX_SUBPROTOCOL) {
        // A server that ignores the subprotocol speaks something else here.
        this.giveUp(socket);
        return;
      }
      opened = true;
      this.failures = 0;
      for (const channel of this.channels.values()) channel.start();
    };
    socket.onmessage = (event: MessageEvent) => this.onMessage(socket, event.data);
    socket.onclose = (event: CloseEvent) => {
      clearTimeout(openTimer);
      this.detach(socket);
      if (!opened) {
        this.failures += 1;
        if (this.failures >= failuresBeforeFallback)
          this.fallbackUntil = this.now() + fallbackForMs;
      }
      this.endAll(event.code || CLOSE_ABNORMAL, event.reason);
    };
    socket.onerror = null;
  }

  private giveUp(socket: WebSocket): void {
    this.detach(socket);
    socket.close(1000, "no shared connection");
    this.fallbackUntil = this.now() + fallbackForMs;
    this.endAll(CLOSE_ABNORMAL, "");
  }

  private onMessage(socket: WebSocket, data: unknown): void {
    let message: MuxMessage;
    try {
      if (!(data instanceof ArrayBuffer)) throw new ProtocolError("expected a binary message");
      message = decodeMuxMessage(new Uint8Array(data));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      console.warn(`[cowrite] closing the shared connection: ${error.message}`);
      this.detach(socket);
      socket.close(4400, error.message.slice(0, 120));
      // Each channel's provider retries, on a new socket.
      this.endAll(CLOSE_ABNORMAL, "");
      return;
    }
    const channel = this.channels.get(message.channel);
    if (channel === undefined) return;
    if (message.type === "data") channel.deliver(message.frame);
    else if (message.type === "close") channel.end(message.code, message.reason);
  }

  private detach(socket: WebSocket): void {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    if (this.socket === socket) this.socket = null;
  }

  private endAll(code: number, reason: string): void {
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const channel of channels) channel.end(code, reason);
  }

  private scheduleIdleClose(): void {
    this.clearIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.channels.size > 0 || this.socket === null) return;
      const socket = this.socket;
      this.detach(socket);
      socket.close(1000, "idle");
    }, this.idleCloseMs);
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

interface ChannelLink {
  send(message: MuxMessage): void;
  ended(channel: Channel): void;
}

/**
 * One document on the shared socket, with the part of the WebSocket API a
 * CowriteProvider uses. It is "open" once its open message is sent; the
 * server answers a refusal with a close, as it would close a socket.
 */
class Channel {
  readyState = CONNECTING;
  binaryType = "arraybuffer";
  readonly protocol = "";
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(
    private readonly connection: ChannelLink,
    readonly number: number,
    readonly url: string,
    private readonly docId: string,
    private readonly token: string,
  ) {}

  get bufferedAmount(): number {
    return 0;
  }

  start(): void {
    if (this.readyState !== CONNECTING) return;
    this.connection.send({
      type: "open",
      channel: this.number,
      docId: this.docId,
      token: this.token,
    });
    this.readyState = OPEN;
    this.onopen?.({ type: "open" } as Event);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error("send on a channel that is not open");
    this.connection.send({ type: "data", channel: this.number, frame: data });
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === CLOSED || this.readyState === CLOSING) return;
    if (this.readyState === OPEN) {
      this.connection.send({ type: "close", channel: this.number, code, reason });
    }
    // Never opened now, even if its start was already queued.
    this.readyState = CLOSING;
    this.connection.ended(this);
    // As a WebSocket does: the close event comes later, never inside close().
    queueMicrotask(() => this.end(code, reason));
  }

  deliver(frame: Uint8Array): void {
    if (this.readyState !== OPEN) return;
    const data = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength);
    // Plain objects: providers read `data`, `code` and `reason`, and Node (tests, SSR) has no CloseEvent.
    this.onmessage?.({ data } as MessageEvent);
  }

  end(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.connection.ended(this);
    this.onclose?.({ code, reason, wasClean: code !== CLOSE_ABNORMAL } as CloseEvent);
  }
}

/** The document id (last path segment) and token (subprotocol or `?token=`) a provider asked for. */
function addressOf(url: string, protocols: string[]): { docId: string; token: string } {
  const parsed = new URL(url);
  const segment = parsed.pathname.split("/").pop() ?? "";
  let docId: string;
  try {
    docId = decodeURIComponent(segment);
  } catch {
    docId = segment;
  }
  const offered = protocols.find((protocol) => protocol.startsWith(WS_TOKEN_PROTOCOL_PREFIX));
  const token = offered?.slice(WS_TOKEN_PROTOCOL_PREFIX.length) ?? parsed.searchParams.get("token");
  return { docId, token: token ?? "" };
}
