/**
 * The writer connection, on the server's own thread: appends, reads and
 * metadata. Calls made in one turn of the event loop run together at its
 * end, consecutive appends in one transaction with `synchronous=FULL`: one
 * fsync makes them all durable (group commit), and their promises resolve
 * right after it. Calls run and resolve in the order they were made, so a
 * read always sees every write requested before it.
 *
 * Why on this thread and not a worker: every broadcast waits for its fsync
 * whichever thread performs it, and a thread hop adds a structured clone and
 * a wake-up each way to each commit. So the event loop waits for the fsync
 * here, as it does for reads, deletes, this writer's catch-up checkpoint and
 * a compaction's final write when a commit meets it (see sqlite.ts).
 * Compactions (which decode a whole document) and background checkpoints
 * stay on the maintenance worker (sqlite-maintenance.ts).
 */
import {
  type AppendInfo,
  type DocMeta,
  DocumentDeletedError,
  type ListOptions,
  type NewVersion,
  type VersionMeta,
} from "./doc-store.ts";
import { type AppendItem, type Durability, SqliteDatabase } from "./sqlite-db.ts";

/**
 * Maintenance checkpoints (on the worker) run while commits continue, so
 * under steady load they may never catch up, and the WAL file only starts
 * over once one has. So the writer also checkpoints, from its own
 * connection between batches, this often: nothing can commit meanwhile, it
 * catches up fully (usually only the frames of the last few hundred
 * milliseconds, as maintenance copied the rest), and the next commit starts
 * the WAL over.
 */
const checkpointIntervalMs = 5000;

/**
 * The writer waits this long for the write lock, on the server's thread.
 * Long enough for a compaction's final write on the maintenance connection;
 * when something else holds the lock (another process, a backup), the batch
 * fails with SQLITE_BUSY and its callers retry later (rooms do, with
 * backoff) instead of the whole server freezing for each attempt.
 */
const writerBusyTimeoutMs = 50;

/** A call waiting for the end of the turn: an append, or any other call. */
type Job =
  | { append: AppendItem; resolve: (value: undefined) => void; reject: (error: Error) => void }
  | {
      call: (db: SqliteDatabase) => unknown;
      resolve: (value: unknown) => void;
      reject: (error: Error) => void;
    };

export class SqliteWriter {
  private db: SqliteDatabase | null = null;
  private queue: Job[] = [];
  private scheduled = false;
  private checkpointAt = performance.now();
  private closed = false;

  constructor(private readonly file: string) {}

  load(docId: string): Promise<Uint8Array[]> {
    return this.call((db) => db.load(docId));
  }

  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.push({ append: { docId, update, info }, resolve, reject });
    });
  }

  ensure(docId: string, at: number): Promise<DocMeta> {
    return this.call((db) => db.ensure(docId, at));
  }

  create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    return this.call((db) => db.create(meta));
  }

  get(docId: string): Promise<DocMeta | null> {
    return this.call((db) => db.get(docId));
  }

  list(options: ListOptions): Promise<DocMeta[]> {
    return this.call((db) => db.list(options));
  }

  saveVersion(docId: string, version: NewVersion): Promise<VersionMeta> {
    return this.call((db) => db.saveVersion(docId, version));
  }

  listVersions(docId: string, limit: number): Promise<VersionMeta[]> {
    return this.call((db) => db.listVersions(docId, limit));
  }

  loadVersion(
    docId: string,
    versionId: number,
  ): Promise<{ meta: VersionMeta; state: Uint8Array } | null> {
    return this.call((db) => db.loadVersion(docId, versionId));
  }

  delete(docId: string): Promise<boolean> {
    return this.call((db) => db.delete(docId));
  }

  ping(): Promise<void> {
    return this.call((db) => db.ping());
  }

  durability(): Promise<Durability> {
    return this.call((db) => db.durability());
  }

  /** Runs everything requested so far, then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.queue.length > 0) {
      await new Promise((resolve) => this.push({ call: () => {}, resolve, reject: resolve }));
    }
    const db = this.db;
    this.db = null;
    db?.close();
  }

  private call<T>(call: (db: SqliteDatabase) => T): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise<T>((resolve, reject) => {
      this.push({ call, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private push(job: Job): void {
    this.queue.push(job);
    if (!this.scheduled) {
      // Wait for the rest of this turn, so calls made in the same turn (a
      // burst of updates from many clients) commit together.
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let db: SqliteDatabase;
    try {
      db = this.db ??= new SqliteDatabase(this.file, writerBusyTimeoutMs);
    } catch (error) {
      // Opening failed (unwritable folder, corrupt file): fail this batch;
      // the next call tries again.
      for (const job of batch) job.reject(error as Error);
      return;
    }
    for (let i = 0; i < batch.length; ) {
      const job = batch[i] as Job;
      if ("append" in job) {
        // Every append up to the next other call: one transaction.
        const appends: Extract<Job, { append: AppendItem }>[] = [];
        for (let next = batch[i]; next && "append" in next; next = batch[++i]) appends.push(next);
        commit(db, appends);
        continue;
      }
      i++;
      try {
        job.resolve(job.call(db));
      } catch (error) {
        job.reject(error as Error);
      }
    }
    this.checkpointIfDue(db);
  };

  private checkpointIfDue(db: SqliteDatabase): void {
    const now = performance.now();
    if (now - this.checkpointAt < checkpointIntervalMs) return;
    this.checkpointAt = now;
    try {
      db.checkpoint();
    } catch {
      // The WAL keeps the data; the next round retries.
    }
  }
}

/**
 * Commits appends in one transaction. An append refused for a deleted
 * document fails alone; a failed commit fails them all.
 */
function commit(db: SqliteDatabase, appends: Extract<Job, { append: AppendItem }>[]): void {
  let refused: Set<string>;
  try {
    refused = db.appendBatch(appends.map((job) => job.append));
  } catch (error) {
    for (const job of appends) job.reject(error as Error);
    return;
  }
  for (const job of appends) {
    const { docId } = job.append;
    if (refused.has(docId)) job.reject(new DocumentDeletedError(docId));
    else job.resolve(undefined);
  }
}

function closedError(): Error {
  return new Error("the document store is closed");
}
