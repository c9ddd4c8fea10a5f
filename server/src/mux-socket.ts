/**
 * The server end of a shared connection (shared/src/mux.ts, PROTOCOL.md §8):
 * one WebSocket carrying many documents, one channel each.
 *
 * Each channel is admitted like an upgrade of its own (its document's id and
 * token, the origin and host of the socket, the same capacity limits) and
 * then served by an ordinary `Connection` over a `ChannelSocket`, which
 * looks to it like the `ws` socket it would otherwise get. So auth,
 * read-only, quotas, the "saved" receipt and close codes behave the same on
 * both; a close code a socket of its own would get ends only the channel.
 *
 * Malformed mux messages close the whole socket with 4400 (its channels end
 * with it); unknown channels are ignored (a close may be in flight).
 */
import { EventEmitter } from "node:events";
import {
  CLOSE_BAD_FRAME,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  CLOSE_RATE_LIMITED,
  CLOSE_TRY_AGAIN_LATER,
  decodeMuxMessage,
  encodeMuxMessage,
  ProtocolError,
} from "@cowrite/shared";
import type { Logger } from "pino";
import WebSocket from "ws";
import type { Verdict } from "./admission.ts";
import { type PeerSocket, truncateReason } from "./connection.ts";

export interface MuxSocketOptions {
  /** A WebSocket, or an HTTP fallback session (http-session.ts) carrying the same messages. */
  ws: PeerSocket;
  /** The checks an upgrade to /ws/<docId> with `token` would get. */
  admit: (docId: string, token: string | null) => Promise<Verdict>;
  /** Serves an admitted channel (starts its Connection). */
  start: (socket: ChannelSocket, verdict: Extract<Verdict, { docId: string }>) => void;
  /** Channels one socket may have open at once. */
  maxChannels: number;
  /** Frames a channel may receive while it is being admitted, and their total size. */
  maxPendingFrames: number;
  maxPendingBytes: number;
  logger: Logger;
}

/**
 * One channel, shaped like the part of a `ws` WebSocket a Connection uses.
 * `terminate()` drops the whole socket: it is what a Connection asks for
 * when the client stopped reading or answering, which is true of the socket.
 */
export class ChannelSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  /** Frames received before the Connection listened (admission is async). */
  private pending: Buffer[] | null = [];
  private pendingBytes = 0;

  constructor(
    private readonly mux: MuxSocket,
    readonly channel: number,
  ) {
    super();
  }

  get bufferedAmount(): number {
    return this.mux.ws.bufferedAmount;
  }

  send(bytes: Uint8Array): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.mux.send({ type: "data", channel: this.channel, frame: bytes });
  }

  close(code: number, reason: string): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.mux.send({ type: "close", channel: this.channel, code, reason: truncateReason(reason) });
    this.mux.forget(this.channel);
    this.ended();
  }

  terminate(): void {
    this.mux.ws.terminate();
  }

  ping(): void {
    if (this.mux.ws.readyState === WebSocket.OPEN) this.mux.ws.ping();
  }

  /** Delivers a frame, or holds it until `listen()`. False if too many are held. */
  receive(frame: Buffer, limits: { maxPendingFrames: number; maxPendingBytes: number }): boolean {
    if (this.pending === null) {
      this.emit("message", frame, true);
      return true;
    }
    if (
      this.pending.length >= limits.maxPendingFrames ||
      this.pendingBytes + frame.length > limits.maxPendingBytes
    ) {
      return false;
    }
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    return true;
  }

  /** The Connection listens now: hand it what arrived meanwhile. */
  listen(): void {
    const held = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    for (const frame of held) this.emit("message", frame, true);
  }

  /** The channel is over (either side, or the socket went): tell the Connection, later. */
  ended(): void {
    this.readyState = WebSocket.CLOSED;
    // Never inside the caller's stack: a Connection closing while its room
    // broadcasts must not leave the room in the middle of the loop.
    setImmediate(() => this.emit("close"));
  }
}

export class MuxSocket {
  readonly ws: PeerSocket;
  private readonly options: MuxSocketOptions;
  private readonly channels = new Map<number, ChannelSocket>();
  private isAlive = true;
  /** Heartbeats in a row that found no channel open. */
  private idleBeats = 0;
  /** Resolves once the socket closed and every channel was told. */
  readonly finished: Promise<void>;

  constructor(options: MuxSocketOptions) {
    this.options = options;
    this.ws = options.ws;
    this.finished = new Promise((resolve) => {
      this.ws.on("close", () => {
        for (const channel of this.channels.values()) channel.ended();
        this.channels.clear();
        resolve();
      });
    });
    this.ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on("pong", () => {
      this.isAlive = true;
      for (const channel of this.channels.values()) channel.emit("pong");
    });
    this.ws.on("error", (error) => options.logger.info({ err: error }, "shared socket error"));
  }

  get channelCount(): number {
    return this.channels.size;
  }

  send(message: Parameters<typeof encodeMuxMessage>[0]): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeMuxMessage(message));
  }

  forget(channel: number): void {
    this.channels.delete(channel);
  }

  /**
   * Ping, or terminate if the last ping went unanswered (channels are
   * pinged by their Connections too). A socket that carried no document for
   * two heartbeats in a row is closed: it only holds a slot.
   */
  heartbeat(): void {
    this.idleBeats = this.channels.size === 0 ? this.idleBeats + 1 : 0;
    if (this.idleBeats >= 2) {
      this.ws.close(CLOSE_NORMAL, "no documents open");
      return;
    }
    if (!this.isAlive) {
      this.ws.terminate();
      return;
    }
    this.isAlive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.ws.close(CLOSE_BAD_FRAME, "text messages are not supported; send binary frames");
      return;
    }
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    let message: ReturnType<typeof decodeMuxMessage>;
    try {
      message = decodeMuxMessage(bytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.options.logger.warn({ reason: error.message }, "closing a shared socket on bad input");
      this.ws.close(CLOSE_BAD_FRAME, truncateReason(error.message));
      return;
    }
    switch (message.type) {
      case "open":
        this.open(message.channel, message.docId, message.token);
        break;
      case "data": {
        const channel = this.channels.get(message.channel);
        // Unknown: the server closed it and the client had not heard yet.
        if (channel === undefined) return;
        if (!channel.receive(Buffer.from(message.frame), this.options)) {
          channel.close(CLOSE_RATE_LIMITED, "too many messages queued");
        }
        break;
      }
      case "close": {
        const channel = this.channels.get(message.channel);
        if (channel === undefined) return;
        this.forget(message.channel);
        channel.ended();
        break;
      }
    }
  }

  private open(number: number, docId: string, token: string): void {
    if (this.channels.has(number)) {
      this.ws.close(CLOSE_BAD_FRAME, `channel ${number} is already open`);
      return;
    }
    if (this.channels.size >= this.options.maxChannels) {
      this.send({
        type: "close",
        channel: number,
        code: CLOSE_TRY_AGAIN_LATER,
        reason: "too many documents on one connection",
      });
      return;
    }
    const channel = new ChannelSocket(this, number);
    this.channels.set(number, channel);
    void this.options
      .admit(docId, token === "" ? null : token)
      .then((verdict) => {
        // The client closed it, or the socket went, while we were checking.
        if (this.channels.get(number) !== channel) return;
        if ("reject" in verdict) {
          this.options.logger.info(
            { docId, code: verdict.reject.code, reason: verdict.reject.reason },
            "rejected channel",
          );
          channel.close(verdict.reject.code, verdict.reject.reason);
          return;
        }
        this.options.start(channel, verdict);
        channel.listen();
      })
      .catch((error: unknown) => {
        // Admission turns every expected failure into a verdict: this is a
        // bug, and it ends this channel only, never the process.
        this.options.logger.error({ err: error, docId }, "opening a channel failed");
        if (this.channels.get(number) === channel) {
          channel.close(CLOSE_INTERNAL_ERROR, "internal error");
        }
      });
  }
}
