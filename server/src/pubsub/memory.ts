import { randomUUID } from "node:crypto";
import { callSubscriber, type PubSub, PubSubClosedError, type Unsubscribe } from "./pubsub.ts";

interface Subscription {
  nodeId: string;
  onMessage: (message: Uint8Array, from: string) => void;
  onGap: () => void;
}

/**
 * What several MemoryPubSub instances (nodes) share: the in-memory stand-in
 * for Redis. Create one per test and pass it to every node.
 */
export class MemoryBus {
  private readonly channels = new Map<string, Set<Subscription>>();
  private readonly losses = new Map<string, number>();

  /**
   * Simulates lost relay messages: the next `count` messages published on
   * `channel` reach no subscriber, and each current subscriber is told of a
   * gap in their place, as the Redis backend would after trimming or an outage.
   */
  loseNext(channel: string, count = 1): void {
    this.losses.set(channel, (this.losses.get(channel) ?? 0) + count);
  }

  /** Subscriptions on `channel`, across nodes (for tests of cleanup). */
  subscriberCount(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  publish(channel: string, from: string, message: Uint8Array): void {
    const subscriptions = [...(this.channels.get(channel) ?? [])];
    const lost = this.losses.get(channel) ?? 0;
    if (lost > 0) {
      if (lost === 1) this.losses.delete(channel);
      else this.losses.set(channel, lost - 1);
      for (const subscription of subscriptions) {
        this.deliver(channel, subscription, () => subscription.onGap());
      }
      return;
    }
    const copy = message.slice();
    for (const subscription of subscriptions) {
      if (subscription.nodeId === from) continue;
      this.deliver(channel, subscription, () => subscription.onMessage(copy.slice(), from));
    }
  }

  add(channel: string, subscription: Subscription): void {
    let subscriptions = this.channels.get(channel);
    if (!subscriptions) {
      subscriptions = new Set();
      this.channels.set(channel, subscriptions);
    }
    subscriptions.add(subscription);
  }

  remove(channel: string, subscription: Subscription): void {
    const subscriptions = this.channels.get(channel);
    subscriptions?.delete(subscription);
    if (subscriptions?.size === 0) this.channels.delete(channel);
  }

  /**
   * Asynchronous like a real backend, so callers cannot come to rely on
   * delivery during `publish`; microtasks run in order, which keeps each
   * channel's order. Skipped if the subscription ended meanwhile.
   */
  private deliver(channel: string, subscription: Subscription, call: () => void): void {
    queueMicrotask(() => {
      if (this.channels.get(channel)?.has(subscription)) callSubscriber(call);
    });
  }
}

/** In-memory PubSub for unit tests: one instance per simulated node. */
export class MemoryPubSub implements PubSub {
  private readonly subscriptions = new Map<Subscription, string>();
  private closed = false;

  constructor(
    private readonly bus: MemoryBus,
    readonly nodeId: string = randomUUID(),
  ) {}

  async publish(channel: string, message: Uint8Array): Promise<void> {
    if (this.closed) throw new PubSubClosedError();
    this.bus.publish(channel, this.nodeId, message);
  }

  async subscribe(
    channel: string,
    onMessage: (message: Uint8Array, from: string) => void,
    onGap: () => void,
  ): Promise<Unsubscribe> {
    if (this.closed) throw new PubSubClosedError();
    const subscription: Subscription = { nodeId: this.nodeId, onMessage, onGap };
    this.bus.add(channel, subscription);
    this.subscriptions.set(subscription, channel);
    return async () => {
      this.bus.remove(channel, subscription);
      this.subscriptions.delete(subscription);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [subscription, channel] of this.subscriptions)
      this.bus.remove(channel, subscription);
    this.subscriptions.clear();
  }
}
