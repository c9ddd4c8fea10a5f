/**
 * The default DocStore: one SQLite file in WAL mode, with two connections.
 *
 * - The writer (sqlite-writer.ts), on the server's thread, takes appends,
 *   reads and metadata. Requests made in one turn of the event loop run
 *   together at its end, consecutive appends in one transaction: under load
 *   many appends share one fsync (group commit), and an append resolves
 *   once its transaction is on disk.
 * - Maintenance (sqlite-worker.ts), on a worker thread, takes compactions
 *   and checkpoints the WAL, so a merge (which decodes a whole document) and
 *   a checkpoint's copying run off the event loop. A compaction's final
 *   write (delete the merged rows, insert one, fsync) takes the write lock
 *   briefly; a commit that meets it waits for it, and so does the event loop.
 *
 * Requests to the writer run and resolve in the order they were made, reads
 * included, so a read always sees every write requested before it.
 */
import { Worker } from "node:worker_threads";
import type { AppendInfo, CompactResult, DocMeta, DocStore } from "./doc-store.ts";
import {
  enqueue,
  fromWireError,
  type NumberedRequest,
  type Pending,
  type StoreReply,
  type StoreRequest,
} from "./sqlite-batch.ts";
import type { Durability } from "./sqlite-db.ts";
import type { WorkerInput } from "./sqlite-worker.ts";
import { SqliteWriter } from "./sqlite-writer.ts";

export class SqliteDocStore implements DocStore {
  private readonly writer: SqliteWriter;
  private readonly maintenance: WorkerChannel;
  private closed = false;

  constructor(readonly file: string) {
    // Two connections must see the same database: an in-memory one is
    // private to each. MemoryDocStore is the in-memory store.
    if (file === ":memory:" || file === "") {
      throw new Error("SqliteDocStore needs a database file (use MemoryDocStore in memory)");
    }
    this.writer = new SqliteWriter(file);
    this.maintenance = new WorkerChannel({ sqliteFile: file });
  }

  load(docId: string): Promise<Uint8Array[]> {
    return this.request({ op: "load", docId });
  }

  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    // Writes need their checkpoints (and restart a maintenance worker that died).
    this.maintenance.start();
    return this.request({ op: "append", docId, update, info });
  }

  compact(docId: string): Promise<CompactResult> {
    if (this.closed) return Promise.reject(closedError());
    return this.maintenance.request({ op: "compact", docId });
  }

  ensure(docId: string, at: number): Promise<DocMeta> {
    return this.request({ op: "ensure", docId, at });
  }

  create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    return this.request({ op: "create", meta });
  }

  get(docId: string): Promise<DocMeta | null> {
    return this.request({ op: "get", docId });
  }

  list(options: { limit: number; prefix?: string }): Promise<DocMeta[]> {
    return this.request({ op: "list", options });
  }

  delete(docId: string): Promise<boolean> {
    return this.request({ op: "delete", docId });
  }

  ping(): Promise<void> {
    return this.request({ op: "ping" });
  }

  /**
   * The durability pragmas of both connections (writer and maintenance), as
   * SQLite reports them: for tests that the settings crash safety rests on
   * are in force, which killing the process cannot show.
   */
  async durability(): Promise<{ writer: Durability; maintenance: Durability }> {
    const [writer, maintenance] = await Promise.all([
      this.request<Durability>({ op: "durability" }),
      this.closed
        ? Promise.reject(closedError())
        : this.maintenance.request<Durability>({ op: "durability" }),
    ]);
    return { writer, maintenance };
  }

  /** Finishes every request made so far, closes the database and stops the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The writer closes last: the last connection to close checkpoints the
    // WAL into the database file.
    try {
      await this.maintenance.close();
    } finally {
      await this.writer.close();
    }
  }

  private request<T>(request: StoreRequest): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return this.writer.request(request);
  }
}

function closedError(): Error {
  return new Error("the document store is closed");
}

/**
 * One worker thread and its request queue. At most one batch is at the
 * worker; requests made meanwhile go together as the next batch.
 */
class WorkerChannel {
  private worker: Worker | null = null;
  /** Requests not yet sent to the worker. */
  private queue: Pending[] = [];
  /** The batch at the worker, by request id; null when none is. */
  private atWorker: Map<number, Pending> | null = null;
  private sendScheduled = false;
  private nextId = 1;
  private closing = false;

  constructor(private readonly input: WorkerInput) {}

  /** Starts the worker now if it is not running. */
  start(): void {
    if (!this.closing) this.ensureWorker();
  }

  request<T>(request: StoreRequest): Promise<T> {
    const reply = enqueue<T, NumberedRequest>(this.queue, { ...request, id: this.nextId++ });
    if (!this.atWorker && !this.sendScheduled) {
      // Wait for the rest of this event-loop turn, so requests made in the
      // same turn (a burst of updates) travel and commit together.
      this.sendScheduled = true;
      setImmediate(() => {
        this.sendScheduled = false;
        this.sendBatch();
      });
    }
    return reply;
  }

  /** Runs what is queued, closes the connection and stops the thread. */
  async close(): Promise<void> {
    const started = this.worker !== null || this.queue.length > 0;
    const closing = started ? this.request({ op: "close" }) : Promise.resolve();
    this.closing = true;
    try {
      await closing;
    } catch (error) {
      // The worker died before closing: its connection is gone already.
      if (this.worker !== null) throw error;
    } finally {
      await this.worker?.terminate();
      this.worker = null;
    }
  }

  private sendBatch(): void {
    if (this.atWorker || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.atWorker = new Map(batch.map((pending) => [pending.request.id, pending]));
    const worker = this.ensureWorker();
    worker.ref(); // keep the process alive until the answer arrives
    worker.postMessage(batch.map((pending) => pending.request));
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(this.input);
    worker.on("message", (replies: StoreReply[]) => {
      // A late answer from a worker already given up on must not settle
      // (or clear) the batch now at its successor.
      if (this.worker === worker) this.onReplies(replies);
    });
    worker.on("error", (error) => this.onWorkerGone(worker, error));
    worker.on("exit", (code) =>
      this.onWorkerGone(worker, new Error(`the storage worker exited (code ${code})`)),
    );
    // Idle workers do not keep the process alive; sendBatch refs while busy.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private onReplies(replies: readonly StoreReply[]): void {
    const answered = this.atWorker;
    this.atWorker = null;
    // Send what queued up meanwhile before resolving, so the disk is not
    // idle while callers react to these answers.
    if (this.queue.length > 0) this.sendBatch();
    else this.worker?.unref();
    for (const reply of replies) {
      const pending = answered?.get(reply.id);
      if (!pending) continue;
      if ("error" in reply) pending.reject(fromWireError(reply.error));
      else pending.resolve(reply.value);
    }
  }

  /**
   * The worker died (failed to open the file, crashed): fail the requests it
   * held. Callers retry (room saves do, with backoff); the next request
   * starts a fresh worker. Requests still queued go to that one.
   */
  private onWorkerGone(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const lost = this.atWorker;
    this.atWorker = null;
    for (const pending of lost?.values() ?? []) pending.reject(error);
    if (this.closing) {
      // No successor while closing: fail what is left (the close request
      // included) rather than leave it waiting forever.
      for (const pending of this.queue.splice(0)) pending.reject(error);
      return;
    }
    if (this.queue.length > 0) setImmediate(() => this.sendBatch());
  }
}

/**
 * In the production bundle the worker is a sibling .js file. From source
 * (tsx, vitest) it is TypeScript, and a worker thread does not inherit the
 * parent's loader, so it loads the file through tsx's API.
 */
function startWorker(workerData: WorkerInput): Worker {
  // A small young generation: the workers pass large buffers through (big
  // updates, whole logs while compacting), and frequent minor collections
  // free them promptly instead of letting the thread's heap balloon.
  const resourceLimits = { maxYoungGenerationSizeMb: 4 };
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./sqlite-worker.js", import.meta.url), {
      workerData,
      resourceLimits,
    });
  }
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./sqlite-worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}));`;
  return new Worker(code, { eval: true, workerData, resourceLimits });
}
