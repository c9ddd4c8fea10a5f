/**
 * Cluster mode: several Cowrite nodes serve the same documents, any node
 * any document, with no sticky sessions. The store (PostgreSQL) is the
 * truth; the pub/sub seam (Redis) only relays. Each node:
 *
 * - makes an update durable in the store before it publishes it (a room's
 *   save resolves, then `RoomRelay.publishUpdate`), so whatever another node
 *   receives can be found in the store too;
 * - subscribes to a document's channel before it reads the document from
 *   the store (`openRoom`), so no update falls between the read and the
 *   subscription;
 * - catches up from the store whenever relay messages may have been lost:
 *   the pub/sub reports a gap (a Redis restart, a dropped connection, a
 *   trimmed backlog), an update arrives that builds on one this node never
 *   got, or another node says it could not publish one (`catchUp`);
 * - relays its clients' presence, and says it is alive every second on the
 *   `nodes` channel: a node not heard from for a few seconds is gone, and
 *   the presence of its clients leaves every room at once.
 *
 * Never a silent divergence: a change is either relayed, or some node
 * reading the store later learns that it must catch up.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { type ClusterMetrics, noClusterMetrics } from "../metrics.ts";
import type { PubSub, Unsubscribe } from "../pubsub/pubsub.ts";
import type { Room, RoomRelay } from "../room.ts";
import {
  decodeRelayMessage,
  documentChannel,
  encodeRelayMessage,
  NODES_CHANNEL,
  type RelayMessage,
  RelayType,
} from "./messages.ts";

export interface ClusterOptions {
  pubsub: PubSub;
  logger: Logger;
  now?: () => number;
  /** How often this node says it is alive. */
  heartbeatMs?: number;
  /**
   * The URL other nodes reach this one at (e.g. http://10.0.0.5:1234),
   * announced with each heartbeat: a request for an HTTP fallback session
   * held here that reaches another node is forwarded to it.
   */
  advertiseUrl?: string;
  /** A node not heard from for this long is gone; its clients' presence leaves. */
  nodeTimeoutMs?: number;
  /**
   * How long opening a document waits for its channel's subscription. Past
   * that (Redis unreachable) the document opens anyway, serving this node's
   * clients, and catches up from the store once the subscription is live.
   */
  subscribeTimeoutMs?: number;
  /** Upper bound of the delay between retries (subscribing, catching up, announcing). */
  maxRetryDelayMs?: number;
  /**
   * Larger updates (a big paste) are not sent through Redis: the other
   * nodes are told to catch up and read them from the store. Each stream
   * keeps about a thousand messages, so this bounds Redis's memory per
   * document.
   */
  maxRelayedUpdateBytes?: number;
  /** Every room open on this node (for presence cleanup). */
  openRooms: () => Iterable<Room>;
  /** Another node deleted a document this node may have open. */
  onDeleted: (docId: string) => void;
  metrics?: ClusterMetrics | undefined;
}

/** Messages that arrive while a document loads and wait for it; past this, it catches up instead. */
const maxEarlyMessages = 10_000;
/** Bytes of those messages. */
const maxEarlyBytes = 64 * 1024 * 1024;
/** Relay messages waiting for Redis's answer; past this, documents are owed a catch-up instead. */
const maxPublishesInFlight = 10_000;
/**
 * A publish not answered within this long counts as failed (the documents
 * are owed a catch-up): a connection that died silently, with no reset,
 * would otherwise hold it for as long as TCP takes to give up.
 */
const publishTimeoutMs = 5000;
/** Documents reading the store at once to catch up (after a Redis restart, all of them want to). */
const maxConcurrentCatchUps = 4;
/** Nodes remembered as gone, so that one coming back is noticed. */
const maxGoneNodes = 1024;

export class Cluster {
  readonly nodeId: string;
  private readonly pubsub: PubSub;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly settings: Required<
    Pick<
      ClusterOptions,
      | "heartbeatMs"
      | "nodeTimeoutMs"
      | "subscribeTimeoutMs"
      | "maxRetryDelayMs"
      | "maxRelayedUpdateBytes"
    >
  >;
  /** Other nodes, with when each was last heard from. */
  private readonly lastSeen = new Map<string, number>();
  /** The URLs other nodes announced (advertiseUrl). */
  private readonly urls = new Map<string, string>();
  /**
   * Documents whose other nodes must catch up, because a publish failed,
   * each with a count of failures, so that one failing while its catch-up
   * message is on its way is not forgotten.
   */
  private readonly owed = new Map<string, number>();
  /** Nodes declared gone (most recent last). */
  private readonly gone = new Set<string>();
  /** Catch-ups running, and those waiting for a turn. */
  private catchUps = 0;
  private readonly catchUpQueue: (() => void)[] = [];
  private owedRetry: Promise<void> | null = null;
  /** Relay messages sent and not yet answered by the pub/sub. */
  private publishing = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private unsubscribeNodes: Unsubscribe | null = null;
  private readonly links = new Set<RoomLink>();
  private closed = false;
  readonly metrics: ClusterMetrics;
  /** Ends pending retry delays at close. */
  private readonly closing = new AbortController();

  constructor(private readonly options: ClusterOptions) {
    this.pubsub = options.pubsub;
    this.nodeId = options.pubsub.nodeId;
    this.logger = options.logger.child({ node: this.nodeId });
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? noClusterMetrics;
    this.settings = {
      heartbeatMs: options.heartbeatMs ?? 1000,
      nodeTimeoutMs: options.nodeTimeoutMs ?? 5000,
      subscribeTimeoutMs: options.subscribeTimeoutMs ?? 2000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
      maxRelayedUpdateBytes: options.maxRelayedUpdateBytes ?? 256 * 1024,
    };
    this.heartbeat = setInterval(() => this.beat(), this.settings.heartbeatMs);
    this.heartbeat.unref();
    void this.retrying("subscribing to the nodes channel", async () => {
      this.unsubscribeNodes = await this.pubsub.subscribe(
        NODES_CHANNEL,
        (bytes, from) => this.onNodesMessage(bytes, from),
        () => {},
      );
    });
    this.beat();
  }

  /**
   * Opens a document's room: subscribes to its channel, then `load`s it
   * from the store (with the link as its relay), then delivers what arrived
   * meanwhile.
   */
  async openRoom(docId: string, load: (relay: RoomRelay) => Promise<Room>): Promise<Room> {
    const link = new RoomLink(docId, this);
    this.links.add(link);
    try {
      await link.start();
      const room = await load(link);
      link.attach(room);
      return room;
    } catch (error) {
      await link.close();
      throw error;
    }
  }

  /** Tells the other nodes that a document is gone (retried while Redis is away). */
  announceDeleted(docId: string): void {
    const message = encodeRelayMessage({ type: RelayType.deleted });
    void this.retrying(`announcing the deletion of ${docId}`, () =>
      this.pubsub.publish(documentChannel(docId), message),
    );
  }

  /** Stops heartbeats, says goodbye (so others drop this node's presence at once). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.closing.abort();
    if (this.owed.size > 0) {
      this.logger.warn(
        { documents: [...this.owed.keys()] },
        "closing before other nodes were told to catch up; they will when their relay next reports a gap",
      );
    }
    await Promise.race([
      this.pubsub.publish(NODES_CHANNEL, encodeRelayMessage({ type: RelayType.goodbye })),
      delay(1000),
    ]).catch(() => {});
    await this.unsubscribeNodes?.().catch(() => {});
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Publishes; a failure makes the document owed a catch-up message. */
  publish(docId: string, message: RelayMessage): void {
    const fail = (error: unknown) => {
      this.metrics.relayFailed();
      if (message.type !== RelayType.update && message.type !== RelayType.catchUp) return;
      this.logger.warn(
        { err: error, docId },
        "relaying an update failed; will ask nodes to catch up",
      );
      this.owe(docId);
    };
    // A Redis that accepts connections but stops answering would otherwise
    // collect every message in flight.
    if (this.publishing >= maxPublishesInFlight) {
      fail(new Error(`${maxPublishesInFlight} relay messages already waiting for Redis`));
      return;
    }
    this.publishing++;
    const published = this.pubsub.publish(documentChannel(docId), encodeRelayMessage(message));
    const settled = () => {
      this.publishing--;
    };
    // Its failure is handled below; this only counts.
    published.then(settled, settled);
    withTimeout(published, publishTimeoutMs, "Redis did not answer a publish").catch(fail);
  }

  /** Waits for a turn among the catch-ups (they read whole documents from the store). */
  async catchUpTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.catchUps >= maxConcurrentCatchUps) {
      await new Promise<void>((resolve) => this.catchUpQueue.push(resolve));
    } else {
      this.catchUps++;
    }
    try {
      return await work();
    } finally {
      const next = this.catchUpQueue.shift();
      // The turn passes on directly: the count stays.
      if (next) next();
      else this.catchUps--;
    }
  }

  /** Nodes this one hears from, itself included. */
  get nodeCount(): number {
    return this.lastSeen.size + 1;
  }

  /** Where a live node said it can be reached; null if it did not, or is gone. */
  urlOf(node: string): string | null {
    return this.lastSeen.has(node) ? (this.urls.get(node) ?? null) : null;
  }

  /**
   * Any message from a node shows it is alive. One that was declared gone
   * and speaks again was only cut off (a network partition, a stall): what
   * it saved meanwhile was never relayed, so every open document catches up.
   */
  saw(node: string): void {
    if (!this.lastSeen.has(node) && this.gone.delete(node)) {
      this.logger.info({ node }, "a node thought gone is back; catching up");
      // Both sides took the other for gone and dropped its presence.
      for (const link of this.links) link.catchUpAfterNodeLoss({ presence: true });
    }
    this.lastSeen.set(node, this.now());
  }

  forget(link: RoomLink): void {
    this.links.delete(link);
  }

  get subscribeTimeoutMs(): number {
    return this.settings.subscribeTimeoutMs;
  }

  get maxRelayedUpdateBytes(): number {
    return this.settings.maxRelayedUpdateBytes;
  }

  get pubsubSeam(): PubSub {
    return this.pubsub;
  }

  get log(): Logger {
    return this.logger;
  }

  deleted(docId: string): void {
    this.options.onDeleted(docId);
  }

  /**
   * Runs `attempt` until it succeeds or the cluster closes, backing off
   * between failures. Resolves whether it succeeded.
   */
  async retrying(what: string, attempt: () => Promise<void>): Promise<boolean> {
    for (let failures = 0; !this.closed; failures++) {
      try {
        await attempt();
        return true;
      } catch (error) {
        if (this.closed) break;
        if (failures === 0) this.logger.warn({ err: error }, `${what} failed; retrying`);
        const wait = Math.min(250 * 2 ** failures, this.settings.maxRetryDelayMs);
        try {
          await delay(wait, undefined, { signal: this.closing.signal });
        } catch {
          break;
        }
      }
    }
    return false;
  }

  private owe(docId: string): void {
    this.owed.set(docId, (this.owed.get(docId) ?? 0) + 1);
    if (this.owedRetry) return;
    this.owedRetry = this.retrying("asking nodes to catch up", async () => {
      for (const [id, failures] of [...this.owed]) {
        await withTimeout(
          this.pubsub.publish(documentChannel(id), encodeRelayMessage({ type: RelayType.catchUp })),
          publishTimeoutMs,
          "Redis did not answer a publish",
        );
        // Failures that came while this was on its way need another one.
        if (this.owed.get(id) === failures) this.owed.delete(id);
      }
      if (this.owed.size > 0) throw new Error("more relay failures meanwhile");
    }).then(() => {
      this.owedRetry = null;
    });
  }

  private onNodesMessage(bytes: Uint8Array, from: string): void {
    const message = safeDecode(bytes, this.logger);
    if (message?.type === RelayType.goodbye) {
      this.nodeGone(from, "said goodbye");
      return;
    }
    if (message?.type === RelayType.heartbeat && message.url !== undefined) {
      this.urls.set(from, message.url);
    }
    this.saw(from);
  }

  /** Says this node is alive; drops nodes that stopped saying so. */
  private beat(): void {
    if (this.closed) return;
    this.pubsub
      .publish(
        NODES_CHANNEL,
        encodeRelayMessage(
          this.options.advertiseUrl === undefined
            ? { type: RelayType.heartbeat }
            : { type: RelayType.heartbeat, url: this.options.advertiseUrl },
        ),
      )
      .catch(() => {});
    const cutoff = this.now() - this.settings.nodeTimeoutMs;
    for (const [node, at] of this.lastSeen) {
      if (at < cutoff) this.nodeGone(node, "stopped sending heartbeats");
    }
  }

  /**
   * Another node is gone: its clients' presence leaves, and every document
   * open here catches up from the store, since the node may have died
   * between committing an update and publishing it.
   */
  private nodeGone(node: string, why: string): void {
    this.lastSeen.delete(node);
    this.urls.delete(node);
    this.gone.add(node);
    if (this.gone.size > maxGoneNodes) this.gone.delete(this.gone.values().next().value as string);
    let rooms = 0;
    for (const room of this.options.openRooms()) {
      room.presence.removeNode(node);
      rooms++;
    }
    for (const link of this.links) link.catchUpAfterNodeLoss({ presence: false });
    this.logger.info({ gone: node, why, rooms }, "a node left the cluster");
  }
}

/**
 * One open document's link to the other nodes: its channel's subscription,
 * and the room's RoomRelay.
 */
class RoomLink implements RoomRelay {
  private room: Room | null = null;
  /** Messages that arrived before the room loaded, and their bytes. */
  private early: { message: RelayMessage; from: string }[] = [];
  private earlyBytes = 0;
  /** The room must catch up from the store once it is there. */
  private owesCatchUp = false;
  private catchingUp: Promise<void> | null = null;
  private catchUpAgain = false;
  /** Presence may have been lost with relay messages: exchange it after catching up. */
  private presenceLost = false;
  /** Set when catching up left changes missing (a damaged log): no loop of reloads. */
  private stuck = false;
  private started = false;
  private unsubscribe: Unsubscribe | null = null;
  private closed = false;
  private readonly channel: string;

  constructor(
    private readonly docId: string,
    private readonly cluster: Cluster,
  ) {
    this.channel = documentChannel(docId);
  }

  /** Subscribes, waiting at most the cluster's subscribe timeout. */
  async start(): Promise<void> {
    const subscribed = this.cluster.retrying(`subscribing to ${this.channel}`, async () => {
      if (this.closed) return;
      const unsubscribe = await this.cluster.pubsubSeam.subscribe(
        this.channel,
        (bytes, from) => this.onMessage(bytes, from),
        () => this.gap({ presence: true }),
      );
      if (this.closed) {
        await unsubscribe();
        return;
      }
      this.unsubscribe = unsubscribe;
      // Opened without the subscription: whatever was published before it
      // went live is in the store.
      if (this.started) this.gap({ presence: true });
    });
    await Promise.race([subscribed, delay(this.cluster.subscribeTimeoutMs)]);
    this.started = true;
    if (!this.unsubscribe) {
      this.cluster.log.warn(
        { docId: this.docId },
        "opening a document without its relay subscription (pub/sub unreachable); it catches up once subscribed",
      );
    }
  }

  attach(room: Room): void {
    this.room = room;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const { message, from } of early) this.dispatch(room, message, from);
    if (this.owesCatchUp) this.gap();
    // Who is already here, on other nodes?
    this.cluster.publish(this.docId, { type: RelayType.queryAwareness });
  }

  publishUpdate(update: Uint8Array): void {
    this.cluster.publish(
      this.docId,
      update.length > this.cluster.maxRelayedUpdateBytes
        ? { type: RelayType.catchUp }
        : { type: RelayType.update, payload: update },
    );
  }

  publishPresence(update: Uint8Array): void {
    this.cluster.publish(this.docId, { type: RelayType.awareness, payload: update });
  }

  /**
   * A node died, perhaps between committing an update and relaying it; or
   * one thought dead is back (`presence`: presence was dropped both ways).
   */
  catchUpAfterNodeLoss(options: { presence: boolean }): void {
    this.gap(options);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cluster.forget(this);
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.().catch(() => {});
  }

  private onMessage(bytes: Uint8Array, from: string): void {
    if (this.closed) return;
    this.cluster.saw(from);
    const message = safeDecode(bytes, this.cluster.log);
    if (!message) return;
    const room = this.room;
    if (room) {
      this.dispatch(room, message, from);
      return;
    }
    if (this.early.length < maxEarlyMessages && this.earlyBytes + bytes.length <= maxEarlyBytes) {
      this.early.push({ message, from });
      this.earlyBytes += bytes.length;
    } else {
      // The store has it all: read it once loaded instead.
      this.early = [];
      this.earlyBytes = 0;
      this.owesCatchUp = true;
    }
  }

  private dispatch(room: Room, message: RelayMessage, from: string): void {
    switch (message.type) {
      case RelayType.update:
        try {
          room.applyRemoteUpdate(message.payload);
        } catch (error) {
          this.cluster.log.error(
            { err: error, docId: this.docId, from },
            "a relayed update failed to apply; catching up from the store",
          );
          this.gap();
          return;
        }
        // It builds on a change that never arrived here.
        if (room.hasMissingChanges && !this.stuck) this.gap();
        return;
      case RelayType.awareness:
        try {
          room.presence.applyRemote(from, message.payload);
        } catch (error) {
          this.cluster.log.warn({ err: error, docId: this.docId, from }, "bad relayed presence");
        }
        return;
      case RelayType.queryAwareness: {
        const states = room.presence.encodeLocalStates();
        if (states) this.publishPresence(states);
        return;
      }
      case RelayType.catchUp:
        this.gap();
        return;
      case RelayType.deleted:
        this.cluster.deleted(this.docId);
        return;
      default:
        return;
    }
  }

  /**
   * Messages may have been lost: read the document from the store (again,
   * if a gap comes while reading). `presence`: this node's relay was down,
   * so presence may have been lost too (and other nodes may have taken this
   * node for gone): exchange it afresh.
   */
  private gap(options: { presence?: boolean } = {}): void {
    if (options.presence) this.presenceLost = true;
    const room = this.room;
    if (!room) {
      this.owesCatchUp = true;
      return;
    }
    if (this.closed) return;
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = this.catchUp(room)
      .catch((error: unknown) => {
        this.cluster.log.error({ err: error, docId: this.docId }, "catching up failed");
      })
      .finally(() => {
        this.catchingUp = null;
      });
  }

  private async catchUp(room: Room): Promise<void> {
    do {
      this.catchUpAgain = false;
      this.cluster.metrics.caughtUp();
      let outcome = "caught-up" as "caught-up" | "deleted";
      const done = await this.cluster.retrying(`catching up ${this.docId} from the store`, () =>
        this.closed
          ? Promise.resolve()
          : this.cluster.catchUpTurn(async () => {
              outcome = this.closed ? "caught-up" : await room.catchUp();
            }),
      );
      if (!done || this.closed) return;
      if (outcome === "deleted") {
        // Its deletion was announced while this node could not hear it.
        this.cluster.deleted(this.docId);
        return;
      }
    } while (this.catchUpAgain);
    this.stuck = room.hasMissingChanges;
    if (this.stuck) {
      this.cluster.log.warn(
        { docId: this.docId },
        "the stored document itself lacks changes some of its updates build on",
      );
    }
    if (!this.presenceLost) return;
    this.presenceLost = false;
    // Other nodes may have dropped this node's presence meanwhile (it
    // seemed gone): send it again, with clocks they take.
    // The relay may only just be back: retried until it takes them.
    const states = room.presence.encodeLocalStates({ renewed: true });
    const messages = [
      ...(states ? [encodeRelayMessage({ type: RelayType.awareness, payload: states })] : []),
      encodeRelayMessage({ type: RelayType.queryAwareness }),
    ];
    void this.cluster.retrying(`re-sending presence of ${this.docId}`, async () => {
      if (this.closed) return;
      for (const message of messages) {
        await withTimeout(
          this.cluster.pubsubSeam.publish(this.channel, message),
          publishTimeoutMs,
          "Redis did not answer a publish",
        );
      }
    });
  }
}

/** `promise`, or a rejection after `ms` if it has not settled by then. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function safeDecode(bytes: Uint8Array, logger: Logger): RelayMessage | null {
  try {
    return decodeRelayMessage(bytes);
  } catch (error) {
    logger.warn({ err: error }, "undecodable relay message");
    return null;
  }
}
