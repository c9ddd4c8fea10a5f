/**
 * The IPC contract between the orchestrator (run.ts, scenarios/) and the
 * load-generator workers (worker/). Each request names a task; the worker
 * answers with that task's result or an error. Clients a task opens belong to
 * a named group in the worker until `close-group`.
 */
import type { LoadSample } from "./stats.ts";

/** One document and its clients, all in one worker so latency uses one clock. */
export interface DocAssignment {
  url: string;
  clients: number;
  /** How many of them keep a Y.Doc replica (see FanoutParams); the rest read keys only. */
  replicas?: number;
  /**
   * The same document on several servers (cluster nodes): client n connects
   * to urls[n % urls.length], its node. Replaces `url` when given.
   */
  urls?: string[];
}

export interface FanoutConnectArgs {
  group: string;
  docs: DocAssignment[];
  connectConcurrency: number;
  timeoutMs: number;
}

export interface FanoutRunArgs {
  group: string;
  editsPerSecond: number;
  durationMs: number;
  drainTimeoutMs: number;
  /** Also time each delivery, split by whether sender and receiver share a node. */
  perDelivery?: boolean;
}

export interface FanoutRunResult {
  /** ms from a local edit until every other client of its document applied it. */
  latencies: Float64Array;
  edits: number;
  /** Updates applied by receivers (each edit counts once per receiver). */
  deliveries: number;
  /** Edits still missing at some receiver after the drain timeout. */
  lost: number;
  divergentDocuments: number;
  disconnectedClients: number;
  /** Edit window, as timed by this worker. */
  windowMs: number;
  load: LoadSample;
  /**
   * With perDelivery: ms from a local edit until one receiver applied it,
   * per delivery, for receivers on another node than the sender's, and on
   * the same node. Empty otherwise.
   */
  crossNodeLatencies: Float64Array;
  sameNodeLatencies: Float64Array;
}

export interface FanoutVerifyArgs {
  group: string;
  timeoutMs: number;
}

export interface FanoutVerifyResult {
  documents: number;
  /** Fresh clients opened (one per document per node). */
  freshClients: number;
  /** One line per document whose replicas or fresh clients disagree. */
  mismatches: string[];
}

export interface IdleOpenArgs {
  group: string;
  urls: string[];
  concurrency: number;
  timeoutMs: number;
}

export interface IdleOpenResult {
  /** ms from opening the socket to the server's sync step 2, per connection. */
  connectMs: Float64Array;
  failed: number;
  firstError: string | null;
  load: LoadSample;
}

export interface BigDocPushArgs {
  group: string;
  url: string;
  /** Path of the cached update (workers read it rather than receive 8 MB over IPC). */
  updateFile: string;
  timeoutMs: number;
}

export interface BigDocReceiveArgs {
  group: string;
  url: string;
  clients: number;
  /** The content counts as received once a client has this many update bytes. */
  expectedBytes: number;
  /** Apply at once and time it too (single-client measurements). */
  applyOnReceipt: boolean;
  timeoutMs: number;
}

export interface BigDocReceiveResult {
  receivedMs: number[];
  /** null unless applyOnReceipt. */
  appliedMs: number[] | null;
  load: LoadSample;
}

export interface BigDocVerifyArgs {
  group: string;
  /** Text length and state vector of the document that was pushed. */
  expectedLength: number;
  expectedStateVector: Uint8Array;
}

export interface WriteConnectArgs {
  group: string;
  docs: DocAssignment[];
  timeoutMs: number;
}

export interface WriteRunArgs {
  group: string;
  maxInFlight: number;
  durationMs: number;
  drainTimeoutMs: number;
}

export interface WriteRunResult {
  /** ms from a writer sending an update until its document's observer applied it. */
  latencies: Float64Array;
  sent: number;
  /** Observed within the window. */
  acceptedInWindow: number;
  lost: number;
  divergentDocuments: number;
  disconnectedClients: number;
  windowMs: number;
  load: LoadSample;
}

export interface PresenceRunArgs {
  group: string;
  /** Presence changes (caret moves) per client per second. */
  updatesPerSecond: number;
  durationMs: number;
  /** After the window, wait until no presence message arrived for this long. */
  quietMs: number;
}

export interface PresenceRunResult {
  /** ms from publishing a presence state until a receiver saw it, per delivery. */
  latencies: Float64Array;
  sent: number;
  /** Presence messages the clients received (one may carry many states). */
  frames: number;
  /** Other clients' states received: each state counts once per receiver. */
  deliveries: number;
  disconnectedClients: number;
  windowMs: number;
  load: LoadSample;
}

/** Task name -> [arguments, result]. */
export interface TaskMap {
  "fanout-connect": [FanoutConnectArgs, { clients: number }];
  "fanout-run": [FanoutRunArgs, FanoutRunResult];
  "fanout-verify": [FanoutVerifyArgs, FanoutVerifyResult];
  "idle-open": [IdleOpenArgs, IdleOpenResult];
  "bigdoc-push": [BigDocPushArgs, { pushMs: number }];
  "bigdoc-receive": [BigDocReceiveArgs, BigDocReceiveResult];
  "bigdoc-verify": [BigDocVerifyArgs, { mismatches: string[] }];
  "write-connect": [WriteConnectArgs, { clients: number }];
  "write-run": [WriteRunArgs, WriteRunResult];
  "presence-connect": [FanoutConnectArgs, { clients: number }];
  "presence-run": [PresenceRunArgs, PresenceRunResult];
  "close-group": [{ group: string }, { closed: number }];
}

export type TaskName = keyof TaskMap;
export type TaskArgs<T extends TaskName> = TaskMap[T][0];
export type TaskResult<T extends TaskName> = TaskMap[T][1];

export interface TaskRequest {
  id: number;
  task: TaskName;
  args: unknown;
}

export type TaskResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };
