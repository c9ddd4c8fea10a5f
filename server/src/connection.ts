/**
 * One WebSocket: turns frames into room calls, in order, and room output
 * into frames. Frames are decoded and applied strictly one after another.
 * Saves run in the background (so one client's burst of updates shares one
 * disk write), but a client's sync step 1 is answered only after all of its
 * earlier updates are durable: that answer is the client's "saved" receipt.
 *
 * Malformed input closes only this connection, with 4400 and a reason.
 * Unexpected errors are logged with the document and connection id and
 * close the connection with 1011; they never reach other connections.
 */
import {
  CLOSE_BAD_FRAME,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NO_DOCUMENT,
  CLOSE_RATE_LIMITED,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  ProtocolError,
  TOKEN_EXPIRED_REASON,
} from "@cowrite/shared";
import type { Logger } from "pino";
import WebSocket from "ws";
import type { Peer, Room } from "./room.ts";
import { SaveAbandonedError } from "./room-saves.ts";
import type { RoomRegistry } from "./rooms.ts";
import { DocumentDeletedError } from "./storage/doc-store.ts";

/** Updates one connection may have applied but not yet durable. */
const maxUnsavedPerConnection = 256;

/**
 * How long a probed client has to answer a ping. Short, unlike the
 * heartbeat: a probe means another connection is waiting for this one's
 * presence id, and a live client on a working link answers in milliseconds.
 */
const probeTimeoutMs = 2_000;

/** What every connection of one server shares (one object, not one per socket). */
export interface ConnectionShared {
  rooms: RoomRegistry;
  logger: Logger;
  now: () => number;
  /** Sustained messages per second; bursts of twice that are allowed. 0: no limit. */
  maxMessagesPerSecond: number;
  /** Frames received but not yet handled (e.g. while the room loads). */
  maxQueuedFrames: number;
  /** Total size of those frames. */
  maxQueuedBytes: number;
  /** A client whose unsent backlog exceeds this is not reading; it is closed. */
  maxBufferedBytes: number;
}

/**
 * The part of a `ws` WebSocket a Connection uses. http-session.ts
 * implements it too, so the HTTP fallback is an ordinary Connection.
 */
export interface PeerSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  on(event: "message", listener: (data: WebSocket.RawData, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: "pong" | "close", listener: () => void): this;
  off(event: "pong" | "close", listener: () => void): this;
}

export interface ConnectionOptions {
  ws: PeerSocket;
  id: string;
  docId: string;
  readOnly: boolean;
  /** The authenticated user, if auth is on. */
  user?: { id: string; name: string } | null;
  /** When the credential expires (ms since epoch); the connection closes with 4401 then. */
  expiresAt?: number | null;
  shared: ConnectionShared;
}

/**
 * A connection is its room's Peer. It is kept lean (no per-connection logger
 * or closures beyond the socket's listeners): a server holds tens of
 * thousands of them, mostly idle.
 */
export class Connection implements Peer {
  readonly id: string;
  readonly docId: string;
  readonly readOnly: boolean;
  readonly user: { id: string; name: string } | null;
  /** Cleared by each heartbeat, set again by the client's pong. */
  isAlive = true;
  /** Resolves once the connection has left its room. */
  readonly finished: Promise<void>;
  private readonly ws: PeerSocket;
  private readonly shared: ConnectionShared;
  /** Created on first use: most connections never log a line. */
  private childLogger: Logger | null = null;
  private room: Room | null = null;
  private chain: Promise<void>;
  private queued = 0;
  private queuedBytes = 0;
  private closing = false;
  /** Settles when every update this client sent so far is durable (null: none sent). */
  private saved: Promise<void> | null = null;
  private unsaved = 0;
  private resolveFinished!: () => void;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** The probe in progress, shared by everyone who asks meanwhile. */
  private probing: Promise<boolean> | null = null;
  /** Token bucket for the message rate: tokens left, and when last refilled. */
  private rateTokens: number;
  private rateCheckedAt: number;

  constructor(options: ConnectionOptions) {
    const shared = options.shared;
    this.shared = shared;
    this.ws = options.ws;
    this.id = options.id;
    this.docId = options.docId;
    this.readOnly = options.readOnly;
    this.user = options.user ?? null;
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
    this.rateTokens = shared.maxMessagesPerSecond * 2;
    this.rateCheckedAt = shared.now();
    if (options.expiresAt != null) this.closeAtExpiry(options.expiresAt, shared.now);
    const ready = shared.rooms.acquire(options.docId);
    this.chain = ready.then(
      (room) => {
        this.room = room;
        if (this.closing) return;
        if (room.refusal) {
          this.close(room.refusal.code, room.refusal.reason);
          return;
        }
        room.addPeer(this);
      },
      (error: unknown) => {
        if (error instanceof DocumentDeletedError) {
          this.close(CLOSE_NO_DOCUMENT, "document deleted");
          return;
        }
        this.logger.error({ err: error }, "could not open document");
        this.close(CLOSE_INTERNAL_ERROR, "could not open document");
      },
    );
    this.ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on("pong", () => {
      this.isAlive = true;
    });
    this.ws.on("error", (error) => {
      // ws closes the socket itself (1009 for oversize frames, 1002 for bad framing).
      this.logger.info({ err: error }, "socket error");
    });
    this.ws.on("close", () => this.onClose());
  }

  private get logger(): Logger {
    this.childLogger ??= this.shared.logger.child({ conn: this.id, docId: this.docId });
    return this.childLogger;
  }

  private closeAtExpiry(expiresAt: number, now: () => number): void {
    const left = expiresAt - now();
    if (left <= 0) {
      this.close(CLOSE_UNAUTHENTICATED, TOKEN_EXPIRED_REASON);
      return;
    }
    // setTimeout overflows past ~24.8 days: wait in steps.
    this.expiryTimer = setTimeout(
      () => this.closeAtExpiry(expiresAt, now),
      Math.min(left, 2 ** 31 - 1),
    );
    this.expiryTimer.unref();
  }

  /** Ping, or terminate if the last ping went unanswered. */
  heartbeat(): void {
    if (!this.isAlive) {
      this.logger.info("no pong since the last ping; terminating");
      this.ws.terminate();
      return;
    }
    this.isAlive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** Pings; resolves whether a pong came in time, and terminates the socket if not. */
  probe(): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    this.probing ??= new Promise<boolean>((resolve) => {
      const settle = (alive: boolean) => {
        clearTimeout(timer);
        this.ws.off("pong", onPong);
        this.ws.off("close", onClose);
        this.probing = null;
        resolve(alive);
      };
      const onPong = () => settle(true);
      const onClose = () => settle(false);
      const timer = setTimeout(() => {
        this.logger.info("no pong within the probe; terminating");
        this.ws.terminate();
        settle(false);
      }, probeTimeoutMs);
      timer.unref();
      this.ws.on("pong", onPong);
      this.ws.on("close", onClose);
      this.ws.ping();
    });
    return this.probing;
  }

  /** Drops the socket without a close handshake (shutdown after the grace period). */
  terminate(): void {
    this.ws.terminate();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, truncateReason(reason));
  }

  send(bytes: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.shared.maxBufferedBytes) {
      this.logger.warn({ buffered: this.ws.bufferedAmount }, "client is not reading; closing");
      this.close(CLOSE_TRY_AGAIN_LATER, "client is not reading its messages");
      this.ws.terminate();
      return;
    }
    this.ws.send(bytes);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.closing) return;
    if (!isBinary) {
      this.close(CLOSE_BAD_FRAME, "text messages are not supported; send binary frames");
      return;
    }
    if (!this.takeRateToken()) {
      this.close(CLOSE_RATE_LIMITED, "too many messages per second");
      return;
    }
    const receivedAt = performance.now();
    const bytes = copyBytes(data);
    if (
      this.queued >= this.shared.maxQueuedFrames ||
      this.queuedBytes + bytes.length > this.shared.maxQueuedBytes
    ) {
      this.close(CLOSE_RATE_LIMITED, "too many messages queued");
      return;
    }
    this.queued++;
    this.queuedBytes += bytes.length;
    this.chain = this.chain
      .then(async () => {
        this.queued--;
        this.queuedBytes -= bytes.length;
        if (this.closing || !this.room) return;
        const frame = decodeFrame(bytes);
        if (frame.type === "sync-step-1") {
          // Our own updates first (the client's "saved" receipt), then
          // everyone's: the answer must not contain what a crash could lose.
          await this.saved;
          await this.room.whenDurable();
          if (this.closing) return;
        }
        const saving = this.room.handle(this, frame, receivedAt);
        if (saving) this.trackSave(saving);
        // Backpressure: a client cannot run arbitrarily far ahead of the disk.
        if (this.unsaved >= maxUnsavedPerConnection) await this.saved;
      })
      .catch((error: unknown) => this.fail(error));
  }

  /** Token bucket: `maxMessagesPerSecond` on average, bursts of twice that. */
  private takeRateToken(): boolean {
    const rate = this.shared.maxMessagesPerSecond;
    if (rate <= 0) return true;
    const at = this.shared.now();
    this.rateTokens = Math.min(
      rate * 2,
      this.rateTokens + ((at - this.rateCheckedAt) / 1000) * rate,
    );
    this.rateCheckedAt = at;
    if (this.rateTokens < 1) return false;
    this.rateTokens -= 1;
    return true;
  }

  private trackSave(saving: Promise<void>): void {
    this.unsaved++;
    const done = saving.then(
      () => {
        this.unsaved--;
      },
      (error: unknown) => {
        this.unsaved--;
        // Given up at shutdown: the room logged it once for all its updates.
        if (!(error instanceof SaveAbandonedError)) {
          this.logger.error({ err: error }, "saving an update failed");
        }
      },
    );
    this.saved = this.saved ? Promise.all([this.saved, done]).then(() => {}) : done;
  }

  private fail(error: unknown): void {
    if (error instanceof ProtocolError) {
      this.logger.warn({ reason: error.message }, "closing on a malformed message");
      this.close(CLOSE_BAD_FRAME, error.message);
      return;
    }
    this.logger.error({ err: error }, "unexpected error while handling a message");
    this.close(CLOSE_INTERNAL_ERROR, "internal error");
  }

  private onClose(): void {
    this.closing = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    // Leave the room right away (so presence disappears), but release it only
    // after the frames already being handled have finished saving.
    this.room?.removePeer(this);
    void this.chain
      .then(() => this.saved)
      .then(async () => {
        if (!this.room) return; // the room never opened
        this.room.removePeer(this);
        await this.shared.rooms.release(this.docId, this.room);
      })
      .catch((error: unknown) => this.logger.error({ err: error }, "leaving the room failed"))
      .finally(() => this.resolveFinished());
  }
}

function copyBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(data);
}

/** Close reasons are limited to 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason.slice(0, 120);
  while (encoder.encode(`${cut}…`).length > 123) cut = cut.slice(0, -1);
  return `${cut}…`;
}
