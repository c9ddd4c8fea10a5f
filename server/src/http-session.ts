/**
 * The HTTP fallback transport (PROTOCOL.md §7), for clients behind proxies
 * that strip `Upgrade` or cut long-lived sockets.
 *
 * `HttpSession` is the subset of a `ws` WebSocket that `Connection` uses
 * (`PeerSocket`), so a session is an ordinary Connection: same auth, limits,
 * close codes, presence and "saved" receipts. Outbound frames wait in a
 * buffer, each at an increasing position; a poll (`GET ?pos=N`)
 * acknowledges every frame before N and answers with the rest, holding the
 * request until one arrives (at most `pollMs`). A lost answer is simply
 * asked for again with the same position. A close travels in-band, in the
 * headers of the poll that carries the last frames; then the session ends.
 *
 * `HttpSessions` owns the open sessions of one server and answers the
 * session routes. Opening one (admission, the Connection) is the server's
 * job: it passes `start`. Sessions live in this process only; a client
 * whose session is unknown (another node, a restart, expiry) gets 404
 * `unknown_session` and opens a new one, which Yjs sync makes lossless.
 *
 * Request and response types are node:http's; this module imports no
 * framework.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type http from "node:http";
import {
  CLOSE_BAD_FRAME,
  CLOSE_GOING_AWAY,
  CLOSE_TOO_BIG,
  decodeFrameBatch,
  encodeFrameBatch,
  FrameTooBigError,
  HTTP_CLOSE_CODE_HEADER,
  HTTP_CLOSE_REASON_HEADER,
  HTTP_NEXT_POSITION_HEADER,
  ProtocolError,
} from "@cowrite/shared";

/** ws's readyState values, which Connection compares against. */
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** A poll waiting for frames. */
interface Poll {
  res: http.ServerResponse;
  timer: NodeJS.Timeout;
}

export interface HttpSessionTiming {
  /** A held poll is answered (empty) after this long. */
  pollMs: number;
  /** A session with no poll for this long is dropped, like a dead socket. */
  idleMs: number;
}

/**
 * One client's session: a WebSocket to Connection, a buffer and a held
 * request to the client. Events: `message` (data, isBinary), `pong`,
 * `close` (code, reason), `error`.
 */
export class HttpSession extends EventEmitter {
  readonly id: string;
  readyState = OPEN;
  /** Position of `frames[0]`. */
  private base = 0;
  private readonly frames: Uint8Array[] = [];
  private buffered = 0;
  private closeFrame: { code: number; reason: string } | null = null;
  private poll: Poll | null = null;
  private pingPending = false;
  private flushScheduled = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly timing: HttpSessionTiming;
  private readonly onEnded: (session: HttpSession) => void;

  constructor(options: {
    id: string;
    timing: HttpSessionTiming;
    onEnded: (session: HttpSession) => void;
  }) {
    super();
    this.id = options.id;
    this.timing = options.timing;
    this.onEnded = options.onEnded;
    this.startIdleTimer();
  }

  /** Whether a poll is being held open. */
  get isPolling(): boolean {
    return this.poll !== null;
  }

  /** Bytes sent but not yet acknowledged by a poll: what `ws` calls buffered. */
  get bufferedAmount(): number {
    return this.buffered;
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) return;
    this.frames.push(data);
    this.buffered += data.byteLength;
    this.scheduleFlush();
  }

  /**
   * Queues the close behind the frames already sent; the Connection sees the
   * socket closed at once (it has nothing more to do with the client), the
   * session stays until a poll has carried the close, or until it idles out.
   */
  close(code: number, reason: string): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSING;
    this.closeFrame = { code, reason };
    this.scheduleFlush();
    process.nextTick(() => this.emit("close", code, Buffer.from(reason)));
  }

  /** Drops the session without telling the client: its next request gets 404. */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    const wasOpen = this.readyState === OPEN;
    this.readyState = CLOSED;
    this.end();
    if (this.poll) answerUnknownSession(this.takePoll().res);
    if (wasOpen) process.nextTick(() => this.emit("close", 1006, Buffer.alloc(0)));
  }

  /** A client that is polling answers at once; one between polls, on its next poll. */
  ping(): void {
    if (this.readyState !== OPEN) return;
    if (this.poll) process.nextTick(() => this.emit("pong"));
    else this.pingPending = true;
  }

  /**
   * `GET ?pos=N`: acknowledges frames before N, answers with the rest, held
   * until there are some or `waitMs` (at most `pollMs`) have passed.
   */
  handlePoll(position: number, res: http.ServerResponse, waitMs = this.timing.pollMs): void {
    if (position < this.base || position > this.base + this.frames.length) {
      res.statusCode = 400;
      sendJson(res, { error: "bad_position", message: "position outside the session's buffer" });
      return;
    }
    for (; this.base < position; this.base++) {
      this.buffered -= (this.frames.shift() as Uint8Array).byteLength;
    }
    // A newer poll replaces an older one (the client gave up on it).
    if (this.poll) this.answer(this.takePoll());
    this.stopIdleTimer();
    const timer = setTimeout(
      () => {
        if (this.poll?.res === res) this.answer(this.takePoll());
      },
      Math.min(waitMs, this.timing.pollMs),
    );
    this.poll = { res, timer };
    res.on("close", () => {
      // The client went away without an answer (or after it): wait for the next poll.
      if (this.poll?.res !== res) return;
      this.takePoll();
    });
    if (this.pingPending) {
      this.pingPending = false;
      process.nextTick(() => this.emit("pong"));
    }
    if (this.frames.length > 0 || this.closeFrame) this.scheduleFlush();
  }

  /** `POST`: the client's frames, in order, as if each had arrived as a WebSocket message. */
  receive(frames: readonly Uint8Array[]): void {
    for (const frame of frames) {
      if (this.readyState !== OPEN) return;
      this.emit("message", Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), true);
    }
  }

  /** Answers a held poll now if there is anything to say (shutdown cannot wait for the next tick). */
  flush(): void {
    if (this.poll && (this.frames.length > 0 || this.closeFrame)) this.answer(this.takePoll());
  }

  /** Batches the frames of one tick into one answer. */
  private scheduleFlush(): void {
    if (this.flushScheduled || !this.poll) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private takePoll(): Poll {
    const poll = this.poll as Poll;
    this.poll = null;
    clearTimeout(poll.timer);
    if (this.readyState !== CLOSED) this.startIdleTimer();
    return poll;
  }

  private answer({ res }: Poll): void {
    const next = this.base + this.frames.length;
    res.statusCode = 200;
    res.setHeader("content-type", "application/octet-stream");
    res.setHeader("cache-control", "no-store");
    res.setHeader(HTTP_NEXT_POSITION_HEADER, String(next));
    const closing = this.closeFrame;
    if (closing) {
      res.setHeader(HTTP_CLOSE_CODE_HEADER, String(closing.code));
      res.setHeader(HTTP_CLOSE_REASON_HEADER, encodeURIComponent(closing.reason));
    }
    res.end(encodeFrameBatch(this.frames));
    if (closing) {
      // Delivered (a lost answer makes the client's retry a 404: it reconnects).
      this.readyState = CLOSED;
      this.end();
    }
  }

  private startIdleTimer(): void {
    this.stopIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.terminate();
    }, this.timing.idleMs);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Leaves the registry and stops every timer. */
  private end(): void {
    this.stopIdleTimer();
    this.frames.length = 0;
    this.buffered = 0;
    this.onEnded(this);
  }
}

export interface HttpSessionsOptions extends HttpSessionTiming {
  /** Largest frame accepted; a larger one closes the session with 1009 (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** Largest POST body; a larger one closes the session with 1009. */
  maxBodyBytes: number;
  /**
   * In a cluster, this node's id: session ids are `<node>.<random>`, so
   * that another node can tell whose a session is (http-forward.ts).
   */
  nodeId?: string | null;
}

/** The open sessions of one server, by id, and the routes that reach them. */
export class HttpSessions {
  private readonly sessions = new Map<string, HttpSession>();
  private readonly options: HttpSessionsOptions;

  constructor(options: HttpSessionsOptions) {
    this.options = options;
  }

  /** Sessions not yet ended (including closed ones whose close is still undelivered). */
  get size(): number {
    return this.sessions.size;
  }

  /** Sessions with a poll held open right now. */
  get pollingCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) if (session.isPolling) count++;
    return count;
  }

  /** A new session with an unguessable id: the id is the client's only credential after opening. */
  create(): HttpSession {
    const session = new HttpSession({
      id: sessionIdFor(this.options.nodeId ?? null, randomBytes(18).toString("base64url")),
      timing: this.options,
      onEnded: (ended) => {
        if (this.sessions.get(ended.id) === ended) this.sessions.delete(ended.id);
      },
    });
    this.sessions.set(session.id, session);
    return session;
  }

  /** `GET /http/<docId>/<session>?pos=N`. */
  poll(sessionId: string, query: URLSearchParams, res: http.ServerResponse): void {
    const session = this.sessions.get(sessionId);
    if (!session) {
      answerUnknownSession(res);
      return;
    }
    const position = Number(query.get("pos") ?? "0");
    if (!Number.isSafeInteger(position) || position < 0) {
      res.statusCode = 400;
      sendJson(res, { error: "bad_position", message: "pos must be a whole number" });
      return;
    }
    // A client behind a proxy that cuts requests held too long asks for shorter polls.
    const wait = Number(query.get("wait") ?? this.options.pollMs);
    session.handlePoll(
      position,
      res,
      Number.isFinite(wait) && wait >= 0 ? wait : this.options.pollMs,
    );
  }

  /** `POST /http/<docId>/<session>`: a body of length-prefixed frames. */
  async receive(
    sessionId: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) {
      req.resume();
      answerUnknownSession(res);
      return;
    }
    const { maxBodyBytes, maxMessageBytes } = this.options;
    const body = await readBody(req, maxBodyBytes);
    if (body === null) {
      tooBig(session, res, "request body too big");
      return;
    }
    let frames: Uint8Array[];
    try {
      frames = decodeFrameBatch(body, maxMessageBytes);
    } catch (error) {
      if (error instanceof FrameTooBigError) {
        tooBig(session, res, "message too big");
        return;
      }
      if (!(error instanceof ProtocolError)) throw error;
      session.close(CLOSE_BAD_FRAME, error.message);
      res.statusCode = 400;
      sendJson(res, { error: "bad_body", message: error.message });
      return;
    }
    session.receive(frames);
    res.statusCode = 204;
    res.end();
  }

  /** `DELETE /http/<docId>/<session>`: the client closed; it polls no more. */
  end(sessionId: string, res: http.ServerResponse): void {
    const session = this.sessions.get(sessionId);
    if (!session) {
      answerUnknownSession(res);
      return;
    }
    session.terminate();
    res.statusCode = 204;
    res.end();
  }

  /** Shutdown: closes every session with 1001 and answers the polls still held. */
  closeAll(): void {
    for (const session of [...this.sessions.values()]) {
      session.close(CLOSE_GOING_AWAY, "server shutting down");
      session.flush();
    }
  }

  /** After the shutdown grace: drops what is left. */
  terminateAll(): void {
    for (const session of [...this.sessions.values()]) session.terminate();
  }
}

function tooBig(session: HttpSession, res: http.ServerResponse, reason: string): void {
  session.close(CLOSE_TOO_BIG, reason);
  res.statusCode = 413;
  res.setHeader("connection", "close");
  sendJson(res, { error: "too_big", message: reason });
}

/** The whole body, or null as soon as it exceeds `limit` bytes (the rest is not read). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Uint8Array | null> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limit) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => {
      if (size <= limit) resolve(new Uint8Array(Buffer.concat(chunks)));
    });
    req.on("error", reject);
  });
}

function answerUnknownSession(res: http.ServerResponse): void {
  res.statusCode = 404;
  sendJson(res, {
    error: "unknown_session",
    message: "no such session on this server; open a new one",
  });
}

function sendJson(res: http.ServerResponse, body: object): void {
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(body));
}

/** `<node>.<random>` in a cluster (node ids hold no "."), else just the random part. */
export function sessionIdFor(nodeId: string | null, random: string): string {
  return nodeId === null ? random : `${nodeId}.${random}`;
}

/** The node a session id names, or null for one made outside a cluster. */
export function nodeOfSession(sessionId: string): string | null {
  const at = sessionId.lastIndexOf(".");
  return at > 0 ? sessionId.slice(0, at) : null;
}
