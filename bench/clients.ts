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

export class BenchClient {
  readonly doc = new Y.Doc();
  readonly ws: WebSocket;
  closed = false;
  error: Error | undefined;
  /** Resolves when the first sync step 2 has been applied. */
  readonly synced: Promise<void>;
  private stepTwoWaiters: Array<() => void> = [];

  constructor(url: string) {
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
    this.ws.on("error", (error) => {
      this.error = error;
      rejectSynced(error);
    });
    this.ws.on("close", (code) => {
      this.closed = true;
      rejectSynced(new Error(`closed before sync (code ${code})`));
    });
    // Local edits go to the server as update frames.
    this.doc.on("update", (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.send(encodeFrame({ type: "update", update }));
    });
  }

  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** Sends a sync step 1 and resolves on the next step 2: the server has processed all we sent before. */
  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.stepTwoWaiters.push(resolve);
      this.send(encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(this.doc) }));
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
        const waiter = this.stepTwoWaiters.shift();
        waiter?.();
        break;
      }
      case "update":
        Y.applyUpdate(this.doc, frame.update, REMOTE);
        break;
      default:
        // Awareness and auth frames are irrelevant to these measurements.
        break;
    }
  }

  close(): Promise<void> {
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) {
      this.closed = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2000);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close();
    });
  }
}

/** Rejects after `ms` so no wait in the harness is unbounded. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects clients in bounded-size batches and waits for each to sync. */
export async function connectMany(
  urls: readonly string[],
  batchSize = 100,
  timeoutMs = 30_000,
): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (let i = 0; i < urls.length; i += batchSize) {
    const batch = urls.slice(i, i + batchSize).map((url) => new BenchClient(url));
    clients.push(...batch);
    await withTimeout(
      Promise.all(batch.map((c) => c.synced)),
      timeoutMs,
      `sync of ${batch.length} clients`,
    );
  }
  return clients;
}

export async function closeAll(clients: readonly BenchClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}
