import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { createClient, RESP_TYPES, type RedisClientType } from "redis";
import { callSubscriber, type PubSub, PubSubClosedError, type Unsubscribe } from "./pubsub.ts";

/**
 * PubSub on Redis Streams. One stream per channel (`cowrite:ch:<channel>`),
 * appended with XADD MAXLEN ~ so each stays bounded, and read by one
 * dedicated connection per node running XREAD BLOCK over every subscribed
 * stream (a blocking read occupies its connection, so publishing and
 * everything else use a second one).
 *
 * Why streams and not PUBLISH: a stream keeps a short backlog with ordered
 * ids, so a reader that was briefly slow catches up, and one that fell too
 * far behind can tell (see gaps below) instead of silently missing messages.
 *
 * Gaps. Each entry carries `prev`, the id of the entry before it in the
 * stream, written by a Lua script that reads the last id and appends in one
 * atomic step. A reader that knows the last id it read sees at once whether
 * anything between was trimmed, deleted, or lost with the stream (a Redis
 * restart, an expired key): the next entry's `prev` differs. Any failure of
 * the reading connection also counts as a gap, for every channel: node-redis
 * reconnects, and the loop then moves each channel to the stream's current
 * end, reports the gap, and reads on.
 *
 * Subscribing goes through the reading loop, which looks up the stream's
 * current end between two reads: positions are only ever set by the loop,
 * on its own connection, so a reconnect cannot slip between a subscription's
 * start and its first read. To get the loop out of a blocking read at once,
 * a subscribe appends to the node's wake-up stream, which every read
 * includes: unlike CLIENT UNBLOCK this cannot be lost when it races the read.
 *
 * Needs a single Redis (not Redis Cluster: one XREAD spans many keys).
 */
export interface RedisPubSubOptions {
  url: string;
  nodeId?: string;
  /** Approximate number of messages kept per channel (MAXLEN ~). */
  maxLength?: number;
  /** An idle channel's stream is deleted after this long (its readers see a gap). */
  idleTtlMs?: number;
  /** How long one XREAD blocks; also bounds how late a missed wake-up is. */
  blockMs?: number;
  /**
   * A reading connection silent for this long is dead (it answers every
   * read within blockMs when alive); default blockMs + 10 s.
   */
  silenceTimeoutMs?: number;
  /** Most entries taken per stream per read, so a backlog is read in bounded bites. */
  readCount?: number;
  /** Connection errors (each is followed by a reconnect). Default: ignored. */
  onError?: (error: Error) => void;
}

const PUBLISH_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if last[1] then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'from', ARGV[3], 'prev', prev, 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return id
`;

/** The id before any entry: what a reader holds for an absent stream. */
const START_ID = "0-0";

interface Subscription {
  /** Entries up to this id predate the subscription. */
  after: string;
  onMessage: (message: Uint8Array, from: string) => void;
  onGap: () => void;
}

interface Channel {
  /** Id of the last entry read (or of the stream's end when subscribed). */
  lastId: string;
  subscriptions: Set<Subscription>;
}

interface PendingSubscribe {
  channel: string;
  subscription: Subscription;
  resolve: () => void;
  reject: (error: Error) => void;
}

type Client = RedisClientType;

export class RedisPubSub implements PubSub {
  readonly nodeId: string;
  private readonly channels = new Map<string, Channel>();
  private pending: PendingSubscribe[] = [];
  private wakeId = START_ID;
  private closed = false;
  /** Cuts short the loop's back-off when closing. */
  private readonly closing = new AbortController();
  private readonly loop: Promise<void>;

  private constructor(
    private readonly client: Client,
    private readonly reader: Client,
    private readonly options: Required<Omit<RedisPubSubOptions, "nodeId" | "url">>,
    nodeId: string,
  ) {
    this.nodeId = nodeId;
    this.loop = this.read();
  }

  static async connect(options: RedisPubSubOptions): Promise<RedisPubSub> {
    const settings = {
      maxLength: options.maxLength ?? 1000,
      idleTtlMs: options.idleTtlMs ?? 24 * 60 * 60 * 1000,
      blockMs: options.blockMs ?? 5000,
      silenceTimeoutMs: options.silenceTimeoutMs ?? (options.blockMs ?? 5000) + 10_000,
      readCount: options.readCount ?? 256,
      onError: options.onError ?? (() => {}),
    };
    const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 2000);
    // "auto" (the default) probes for Redis Enterprise maintenance
    // notifications on every connect, which costs about 100 ms here.
    const maintNotifications = "disabled" as const;
    // No offline queue: a publish while disconnected fails at once instead
    // of piling up in memory.
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      maintNotifications,
      socket: { reconnectStrategy },
    }) as Client;
    // The reader keeps its offline queue (it has at most one command in
    // flight), so after a failure its next command waits for the reconnect.
    // The socket timeout notices a silently dead connection: a live one
    // answers every blocking read within blockMs.
    const reader = createClient({
      url: options.url,
      maintNotifications,
      socket: { reconnectStrategy, socketTimeout: settings.silenceTimeoutMs },
    }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) as unknown as Client;
    client.on("error", settings.onError);
    reader.on("error", settings.onError);
    try {
      await client.connect();
      await reader.connect();
    } catch (error) {
      client.destroy();
      reader.destroy();
      throw error;
    }
    return new RedisPubSub(client, reader, settings, options.nodeId ?? randomUUID());
  }

  async publish(channel: string, message: Uint8Array): Promise<void> {
    if (this.closed) throw new PubSubClosedError();
    const args = {
      keys: [streamKey(channel)],
      arguments: [
        String(this.options.maxLength),
        String(this.options.idleTtlMs),
        this.nodeId,
        Buffer.from(message.buffer, message.byteOffset, message.byteLength),
      ],
    };
    // EVAL with the script's text rather than EVALSHA: a few hundred bytes
    // more per message, but no NOSCRIPT retry after a Redis restart, so the
    // commands go out, and run, in the order publish was called.
    await this.client.eval(PUBLISH_SCRIPT, args);
  }

  async subscribe(
    channel: string,
    onMessage: (message: Uint8Array, from: string) => void,
    onGap: () => void,
  ): Promise<Unsubscribe> {
    if (this.closed) throw new PubSubClosedError();
    const subscription: Subscription = { after: START_ID, onMessage, onGap };
    await new Promise<void>((resolve, reject) => {
      const request = { channel, subscription, resolve, reject };
      this.pending.push(request);
      this.wake().catch((error: Error) => {
        // Redis is unreachable: fail unless the loop has taken the request
        // already (then it resolves once Redis answers).
        const index = this.pending.indexOf(request);
        if (index < 0) return;
        this.pending.splice(index, 1);
        reject(error);
      });
    });
    return async () => {
      const state = this.channels.get(channel);
      state?.subscriptions.delete(subscription);
      // The next read leaves the stream out; a read in flight may still
      // return its entries, which then have no one to go to.
      if (state?.subscriptions.size === 0) this.channels.delete(channel);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.channels.clear();
    for (const request of this.pending.splice(0)) request.reject(new PubSubClosedError());
    // Ends the blocking read at once; the loop sees `closed` and stops.
    this.reader.destroy();
    await this.loop;
    // Best effort: if Redis is unreachable the key expires on its own, and
    // close must still release the connection.
    await this.client.del(wakeKey(this.nodeId)).catch(this.options.onError);
    this.client.destroy();
  }

  /**
   * The reader found Redis unreachable, so the publishing connection most
   * likely is too, even if it has not noticed: a connection that died
   * without a reset (a partition, a dead host) looks fine until TCP gives
   * up, minutes later, and holds every publish until then. Reconnecting it
   * fails those publishes now, so their callers can make up for them.
   */
  private resetPublisher(): void {
    if (this.closed || !this.client.isReady) return;
    this.client.destroy();
    this.client.connect().catch((error: Error) => {
      if (!this.closed) this.options.onError(error);
    });
  }

  private async wake(): Promise<void> {
    await this.client.xAdd(
      wakeKey(this.nodeId),
      "*",
      { wake: "1" },
      { TRIM: { strategy: "MAXLEN", threshold: 1 } },
    );
    // Left behind by a node that dies without closing; gone after a minute.
    await this.client.pExpire(wakeKey(this.nodeId), 60_000);
  }

  /** The reading loop: one XREAD at a time over every subscribed stream. */
  private async read(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        if (failures > 0) {
          // Backs off so an error that is not a lost connection (say, a key
          // of the wrong type) does not spin.
          await delay(Math.min(50 * 2 ** failures, 2000), undefined, {
            signal: this.closing.signal,
          });
          await this.recover();
          failures = 0;
        }
        await this.startPending();
        const streams = [
          { key: wakeKey(this.nodeId), id: this.wakeId },
          ...[...this.channels].map(([channel, state]) => ({
            key: streamKey(channel),
            id: state.lastId,
          })),
        ];
        const reply = (await this.reader.xRead(streams, {
          BLOCK: this.options.blockMs,
          COUNT: this.options.readCount,
        })) as unknown as StreamsReply | null;
        for (const stream of reply ?? []) this.deliver(stream);
      } catch (error) {
        if (this.closed) return;
        // The connection failed (or a command on it): messages may have
        // been missed on every channel. node-redis reconnects; the next
        // command on the reader waits for it.
        failures += 1;
        this.options.onError(error as Error);
        this.resetPublisher();
      }
    }
  }

  /** Starts waiting subscriptions at their streams' current ends. */
  private async startPending(): Promise<void> {
    const requests = this.pending.splice(0);
    try {
      const ends = await Promise.all(requests.map((request) => this.streamEnd(request.channel)));
      requests.forEach((request, i) => {
        const end = ends[i] ?? START_ID;
        request.subscription.after = end;
        let state = this.channels.get(request.channel);
        if (!state) {
          state = { lastId: end, subscriptions: new Set() };
          this.channels.set(request.channel, state);
        }
        state.subscriptions.add(request.subscription);
        request.resolve();
      });
    } catch (error) {
      // Retried after the reconnect rather than failed: the caller waits.
      this.pending.unshift(...requests);
      throw error;
    }
  }

  /** After a failed read: every channel restarts at its end and hears of the gap. */
  private async recover(): Promise<void> {
    const channels = [...this.channels];
    const ends = await Promise.all(channels.map(([channel]) => this.streamEnd(channel)));
    this.wakeId = START_ID;
    channels.forEach(([, state], i) => {
      state.lastId = ends[i] ?? START_ID;
      for (const subscription of state.subscriptions) {
        // Ids may start again lower after a Redis restart.
        subscription.after = START_ID;
      }
    });
    for (const [, state] of channels) this.reportGap(state);
  }

  private async streamEnd(channel: string): Promise<string> {
    const last = await this.reader.xRevRange(streamKey(channel), "+", "-", { COUNT: 1 });
    return last?.[0] ? String(last[0].id) : START_ID;
  }

  private deliver(stream: StreamReply): void {
    if (stream.name === wakeKey(this.nodeId)) {
      const last = stream.messages.at(-1);
      if (last) this.wakeId = String(last.id);
      return;
    }
    if (!stream.name.startsWith(STREAM_PREFIX)) return;
    const state = this.channels.get(stream.name.slice(STREAM_PREFIX.length));
    if (!state) return;
    for (const entry of stream.messages) {
      const id = String(entry.id);
      const prev = String(entry.message.prev);
      if (prev !== state.lastId) this.reportGap(state);
      state.lastId = id;
      const from = String(entry.message.from);
      const data = entry.message.data;
      if (from === this.nodeId || !data) continue;
      for (const subscription of [...state.subscriptions]) {
        if (compareIds(id, subscription.after) <= 0) continue;
        // Unsubscribed by an earlier callback in this batch: stop at once.
        if (!state.subscriptions.has(subscription)) continue;
        callSubscriber(() => subscription.onMessage(new Uint8Array(data), from));
      }
    }
  }

  private reportGap(state: Channel): void {
    for (const subscription of [...state.subscriptions]) {
      if (state.subscriptions.has(subscription)) callSubscriber(() => subscription.onGap());
    }
  }
}

const STREAM_PREFIX = "cowrite:ch:";

function streamKey(channel: string): string {
  return `${STREAM_PREFIX}${channel}`;
}

function wakeKey(nodeId: string): string {
  return `cowrite:wake:${nodeId}`;
}

/** Orders stream ids ("<ms>-<seq>"). */
function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** XREAD's reply on the reader, whose bulk strings arrive as Buffers. */
interface StreamReply {
  name: string;
  messages: { id: Buffer; message: Record<string, Buffer | undefined> }[];
}
type StreamsReply = StreamReply[];
