/**
 * A minimal y-websocket client for load generation: a real `ws` socket and a
 * Y.Doc, speaking the wire protocol through @cowrite/shared's frame codec.
 * No awareness and no reconnects: a drop is a measurement failure, not
 * something to hide.
 */
import { decodeFrame, encodeFrame } from "@cowrite/shared";
import WebSocket from "ws";
import * as Y from "yjs";

/** Transaction origin for updates that came from the server. */
export const REMOTE = Symbol("remote");

export interface BenchClientOptions {
  /**
   * Apply live updates from the server (default). Write-path writers turn
   * this off: they only produce, and applying every other writer's update
   * would spend load-generator CPU on something not measured.
   */
  applyRemoteUpdates?: boolean;
}

export class BenchClient {
  readonly doc = new Y.Doc();
  readonly ws: WebSocket;
  closed = false;
  closeCode: number | null = null;
  /** Resolves when the first sync step 2 has been applied. */
  readonly synced: Promise<void>;
  private readonly stepTwoWaiters: Array<() => void> = [];
  /** Whether live updates are applied to `doc` (see BenchClientOptions). */
  readonly applyRemoteUpdates: boolean;
  /** Called with every awareness message from the server, if set. */
  onAwareness: ((update: Uint8Array) => void) | null = null;
  /** Called with every live update the client does not apply, if set. */
  onUnappliedUpdate: ((update: Uint8Array) => void) | null = null;

  constructor(url: string, options: BenchClientOptions = {}) {
    this.applyRemoteUpdates = options.applyRemoteUpdates ?? true;
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.binaryType = "nodebuffer";
    let resolveSynced: () => void = () => {};
    let rejectSynced: (error: Error) => void = () => {};
    this.synced = new Promise((resolve, reject) => {
      resolveSynced = resolve;
      rejectSynced = reject;
    });
    // Avoid an unhandled rejection if nobody awaits `synced`.
    this.synced.catch(() => {});
    this.stepTwoWaiters.push(resolveSynced);
    this.ws.on("open", () => {
      this.send(encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(this.doc) }));
    });
    this.ws.on("message", (data: Buffer) => this.onMessage(data));
    this.ws.on("error", (error) => rejectSynced(error));
    this.ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
      rejectSynced(new Error(`closed before sync (code ${code})`));
    });
  }

  /**
   * Runs `change` in one transaction and sends the resulting update. The
   * "update" listener exists only during the edit: while any is registered,
   * Yjs encodes every transaction's update, including each remote update a
   * receiver applies, which would cost the load generator for nothing.
   */
  edit(change: () => void): void {
    const sendUpdate = (update: Uint8Array) => this.send(encodeFrame({ type: "update", update }));
    this.doc.on("update", sendUpdate);
    try {
      this.doc.transact(change);
    } finally {
      this.doc.off("update", sendUpdate);
    }
  }

  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /**
   * Sends a sync step 1 and resolves on the next step 2: both servers answer
   * in order, so the server has handled everything we sent before (for
   * Cowrite: made it durable). `stateVector` defaults to the doc's own.
   */
  roundTrip(stateVector: Uint8Array = Y.encodeStateVector(this.doc)): Promise<void> {
    return new Promise((resolve) => {
      this.stepTwoWaiters.push(resolve);
      this.send(encodeFrame({ type: "sync-step-1", stateVector }));
    });
  }

  private onMessage(data: Buffer): void {
    const frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    switch (frame.type) {
      case "sync-step-1":
        this.send(
          encodeFrame({
            type: "sync-step-2",
            update: Y.encodeStateAsUpdate(this.doc, frame.stateVector),
          }),
        );
        break;
      case "sync-step-2": {
        Y.applyUpdate(this.doc, frame.update, REMOTE);
        this.stepTwoWaiters.shift()?.();
        break;
      }
      case "update":
        if (this.applyRemoteUpdates) Y.applyUpdate(this.doc, frame.update, REMOTE);
        else this.onUnappliedUpdate?.(frame.update);
        break;
      case "awareness":
        this.onAwareness?.(frame.update);
        break;
      default:
        // Auth and query frames are irrelevant to these measurements.
        break;
    }
  }

  close(): Promise<void> {
    return closeSocket(this.ws);
  }
}

/** Closes with a handshake, or terminates after 2 s; resolves when closed. */
export function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2000);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close();
  });
}
