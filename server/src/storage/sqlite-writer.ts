/**
 * The writer connection, on the server's own thread: appends, reads and
 * metadata. Requests made in one turn of the event loop run together at
 * its end as one batch, consecutive appends in one transaction with
 * `synchronous=FULL`: one fsync makes them all durable (group commit), and
 * their promises resolve right after it. Requests run and resolve in the
 * order they were made, so a read always sees every write requested
 * before it.
 *
 * Why not a worker thread (as until 2026-11): every commit then cost a
 * structured clone and a thread wake-up each way, and on the fan-out
 * benchmark that was a quarter of the server's CPU per delivered update.
 * The worker kept the fsync off the event loop; here the loop waits for it
 * (about 50 µs typically, a few ms at the tail on a busy disk), as it does
 * for reads (an 8 MB document: a few ms), deletes, this writer's own
 * catch-up checkpoint, and a compaction's final write when a commit meets
 * it (see sqlite.ts). Measured both ways, and with the fsync moved to
 * libuv's thread pool as a third design, in alternating runs of the fan-out
 * benchmark: inline commits were cheapest and also had the lowest p99
 * latency, because every broadcast waits for its fsync whichever thread
 * performs it, and a thread hop adds a wake-up to each. Compactions (which
 * decode a whole document) and background checkpoints stay on the
 * maintenance worker.
 */
import { enqueue, executeBatch, type Pending, type StoreRequest } from "./sqlite-batch.ts";
import { SqliteDatabase } from "./sqlite-db.ts";

/**
 * Maintenance checkpoints (on the worker) run while commits continue, so
 * under steady load they may never catch up, and the WAL file only starts
 * over once one has. So the writer also checkpoints, from its own
 * connection between batches, this often: nothing can commit meanwhile, it
 * catches up fully (usually only the frames of the last few hundred
 * milliseconds, as maintenance copied the rest), and the next commit starts
 * the WAL over.
 */
const CHECKPOINT_INTERVAL_MS = 5000;

/**
 * The writer waits this long for the write lock, on the server's thread.
 * Long enough for a compaction's final write on the maintenance connection;
 * when something else holds the lock (another process, a backup), the batch
 * fails with SQLITE_BUSY and its callers retry later (rooms do, with
 * backoff) instead of the whole server freezing for each attempt.
 */
const WRITER_BUSY_TIMEOUT_MS = 50;

export class SqliteWriter {
  private db: SqliteDatabase | null = null;
  private queue: Pending<StoreRequest>[] = [];
  private scheduled = false;
  private checkpointAt = performance.now();
  private closed = false;

  constructor(private readonly file: string) {}

  request<T>(request: StoreRequest): Promise<T> {
    if (this.closed) return Promise.reject(new Error("the document store is closed"));
    const reply = enqueue<T, StoreRequest>(this.queue, request);
    if (!this.scheduled) {
      // Wait for the rest of this turn, so requests made in the same turn
      // (a burst of updates from many clients) commit together.
      this.scheduled = true;
      setImmediate(this.run);
    }
    return reply;
  }

  /** Runs everything requested so far, then closes the connection. */
  async close(): Promise<void> {
    if (this.queue.length > 0) await this.request({ op: "ping" }).catch(() => {});
    this.closed = true;
    const db = this.db;
    this.db = null;
    db?.close();
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let db: SqliteDatabase;
    try {
      db = this.db ??= new SqliteDatabase(this.file, WRITER_BUSY_TIMEOUT_MS);
    } catch (error) {
      // Opening failed (unwritable folder, corrupt file): fail this batch;
      // the next request tries again.
      for (const pending of batch) pending.reject(error as Error);
      return;
    }
    const outcomes = executeBatch(
      db,
      batch.map((pending) => pending.request),
    );
    outcomes.forEach((outcome, i) => {
      const pending = batch[i] as Pending<StoreRequest>;
      if ("error" in outcome) pending.reject(outcome.error as Error);
      else pending.resolve(outcome.value);
    });
    this.checkpointIfDue(db);
  };

  private checkpointIfDue(db: SqliteDatabase): void {
    const now = performance.now();
    if (now - this.checkpointAt < CHECKPOINT_INTERVAL_MS) return;
    this.checkpointAt = now;
    try {
      db.checkpoint();
    } catch {
      // The WAL keeps the data; the next round retries.
    }
  }
}
