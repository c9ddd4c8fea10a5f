/**
 * The pub/sub seam: how Cowrite nodes in a cluster relay document updates
 * and presence to each other. Not the source of truth: an update is made
 * durable in the DocStore first and only then published, so a node that
 * misses relay messages catches up by reloading the document from the store.
 * The seam's job is to say when that is needed (`onGap`).
 *
 * Contract, checked on every implementation by
 * server/test/pubsub-contract.test.ts:
 * - Each instance is one node and has a `nodeId`. A subscriber never
 *   receives messages published by its own node (echo suppression: the node
 *   already applied them locally); it receives every other node's messages,
 *   with the sender's `nodeId` as `from`.
 * - `subscribe` resolves once the subscription is live: every message
 *   published on the channel after it resolves is delivered, or a gap is
 *   reported. So a room subscribes first and loads from the store second,
 *   and no update falls between the two. Messages published before it
 *   resolved may or may not be delivered (they are in the store anyway).
 * - Order: per channel, every subscriber sees messages in one order, which
 *   keeps the order in which each node called `publish`. Nothing is
 *   promised across channels.
 * - `onGap` is called whenever messages on the channel may have been lost
 *   (reconnect after an outage, the backlog trimmed past a slow reader, a
 *   backend restart). The caller then reloads from the store; delivery goes
 *   on with messages published after the gap was noticed.
 * - Delivery is at least once only in that sense: a message may be
 *   delivered twice when a publisher retries after an ambiguous failure.
 *   Messages are CRDT updates and presence states, so duplicates are harmless.
 * - `publish` resolves once the backend has accepted the message. It rejects
 *   when that may not have happened (backend unreachable: nothing is queued
 *   while disconnected, so memory stays bounded); subscribers then see no
 *   gap, so the publisher must retry or otherwise make up for it.
 * - Callbacks are called one at a time, never re-entrantly, and must not
 *   throw; an error thrown by one is rethrown out of band (an uncaught
 *   exception), never swallowed.
 * - The returned unsubscribe stops delivery to that subscription at once.
 * - `close` ends every subscription and releases the backend; afterwards
 *   `publish` and `subscribe` reject.
 * Messages are bytes; each instance copies or serialises them, so callers may
 * reuse their buffers after `publish` resolves.
 */
export interface PubSub {
  readonly nodeId: string;
  publish(channel: string, message: Uint8Array): Promise<void>;
  subscribe(
    channel: string,
    onMessage: (message: Uint8Array, from: string) => void,
    onGap: () => void,
  ): Promise<Unsubscribe>;
  close(): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;

export class PubSubClosedError extends Error {
  override name = "PubSubClosedError";
  constructor() {
    super("pub/sub is closed");
  }
}

/** Calls a subscriber's callback; an error it throws surfaces as uncaught. */
export function callSubscriber(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    // Never swallowed, and never allowed to stop delivery to other channels.
    queueMicrotask(() => {
      throw error;
    });
  }
}
