/**
 * A room's outgoing durable changes. Under load one group commit makes many
 * changes durable at once and their saves resolve together; they go out as
 * one merged frame per peer, which saves a syscall (and the client a decode)
 * per change. A peer whose own change is among them gets only the others'.
 *
 * The flush runs on `process.nextTick`: once the microtask queue is empty,
 * so every save the commit resolved has queued its change, yet still in the
 * same turn of the event loop as the commit (a later turn would add a whole
 * turn of latency under load).
 */
import { encodeFrame } from "@cowrite/shared";
import type { Logger } from "pino";
import * as Y from "yjs";
import type { RoomMetrics } from "./metrics.ts";

/** Who receives the broadcast: anything that can be sent bytes. */
export interface Recipient {
  send(bytes: Uint8Array): void;
}

export interface OutgoingChange<P extends Recipient> {
  update: Uint8Array;
  /** The peer it came from (it gets the others' changes only); null: from another node. */
  origin: P | null;
  /** performance.now() when the change arrived, for the broadcast-latency metric. */
  receivedAt: number;
}

export interface RoomOutboxOptions<P extends Recipient> {
  docId: string;
  logger: Logger;
  metrics: RoomMetrics;
  /** The peers at the moment of sending. */
  recipients: () => Iterable<P>;
}

export class RoomOutbox<P extends Recipient> {
  private queued: OutgoingChange<P>[] = [];
  private sent: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: RoomOutboxOptions<P>) {}

  /** Queues a durable change; resolves once it has been sent. */
  push(change: OutgoingChange<P>): Promise<void> {
    this.queued.push(change);
    this.sent ??= new Promise((resolve) =>
      process.nextTick(() => {
        this.sent = null;
        // Outside any promise chain: nothing may escape and end the process.
        try {
          this.flush();
        } catch (error) {
          this.options.logger.error({ err: error, docId: this.options.docId }, "broadcast failed");
        }
        resolve();
      }),
    );
    return this.sent;
  }

  /** Sends nothing more. */
  close(): void {
    this.closed = true;
  }

  private flush(): void {
    const changes = this.queued;
    this.queued = [];
    if (this.closed || changes.length === 0) return;
    const { metrics } = this.options;
    const now = performance.now();
    for (const change of changes) metrics.updateBroadcast((now - change.receivedAt) / 1000);
    const origins = new Set(changes.map((change) => change.origin));
    const everything = encodeFrame({ type: "update", update: mergeChanges(changes) });
    let frames = 0;
    for (const peer of this.options.recipients()) {
      if (!origins.has(peer)) {
        peer.send(everything);
        frames++;
        continue;
      }
      const others = changes.filter((change) => change.origin !== peer);
      if (others.length === 0) continue;
      peer.send(encodeFrame({ type: "update", update: mergeChanges(others) }));
      frames++;
    }
    metrics.broadcast(changes.length, frames);
  }
}

/** The changes as one update (no merging work for a single one). */
function mergeChanges<P extends Recipient>(changes: readonly OutgoingChange<P>[]): Uint8Array {
  const only = changes.length === 1 ? changes[0] : undefined;
  return only ? only.update : Y.mergeUpdates(changes.map((change) => change.update));
}
