/**
 * A storage worker thread: owns one SQLite connection and runs the requests
 * the server's SqliteDocStore sends it, in order. Each message is a batch of
 * requests; consecutive appends in a batch share one transaction, so one
 * fsync covers them all (group commit). Replies come back in one message per
 * batch.
 *
 * There are two: the "writer" takes appends, reads and metadata; the
 * "maintenance" worker takes compactions and checkpoints the WAL every
 * CHECKPOINT_INTERVAL_MS, so neither ever stalls an append.
 *
 * This file is both the worker's entry point (when started with workerData)
 * and, for types and `executeBatch`, an ordinary module.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { AppendInfo } from "./doc-store.ts";
import { type AppendItem, SqliteDatabase } from "./sqlite-db.ts";

export type StoreRequest =
  | { op: "append"; docId: string; update: Uint8Array; info: AppendInfo }
  | { op: "load"; docId: string }
  | { op: "compact"; docId: string }
  | { op: "countUpdates"; docId: string }
  | { op: "ensure"; docId: string; at: number }
  | { op: "create"; meta: { id: string; title: string; at: number } }
  | { op: "get"; docId: string }
  | { op: "list"; options: { limit: number; prefix?: string } }
  | { op: "delete"; docId: string }
  | { op: "ping" }
  | { op: "close" };

export type NumberedRequest = StoreRequest & { id: number };

/** An error as it crosses the thread boundary (enough to rebuild the typed ones). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  docId?: string;
}

export type StoreReply = { id: number; value: unknown } | { id: number; error: WireError };

export interface WorkerInput {
  sqliteFile: string;
  role: "writer" | "maintenance";
}

const CHECKPOINT_INTERVAL_MS = 500;
/**
 * Maintenance checkpoints run while commits continue, so under steady load
 * they may never catch up, and the WAL file only starts over once one has.
 * So the writer also checkpoints, from its own connection between batches,
 * this often: nothing can commit meanwhile, it catches up fully (usually
 * only the last few hundred milliseconds of frames), and the next commit
 * starts the WAL over.
 */
const WRITER_CHECKPOINT_INTERVAL_MS = 5000;

/** Runs a batch in order; returns one reply per request and the buffers to transfer. */
export function executeBatch(
  db: SqliteDatabase,
  batch: readonly NumberedRequest[],
): { replies: StoreReply[]; transfer: ArrayBuffer[] } {
  const replies: StoreReply[] = [];
  const transfer: ArrayBuffer[] = [];
  for (let i = 0; i < batch.length; ) {
    const request = batch[i] as NumberedRequest;
    if (request.op === "append") {
      // Every append up to the next non-append: one transaction.
      const appends: Array<AppendItem & { id: number }> = [];
      while (i < batch.length && batch[i]?.op === "append") {
        appends.push(batch[i] as AppendItem & { id: number });
        i++;
      }
      try {
        db.appendBatch(appends);
        for (const { id } of appends) replies.push({ id, value: undefined });
      } catch (error) {
        for (const { id } of appends) replies.push({ id, error: toWireError(error) });
      }
      continue;
    }
    i++;
    try {
      const value = execute(db, request);
      if (request.op === "load") {
        for (const update of value as Uint8Array[]) transfer.push(update.buffer as ArrayBuffer);
      }
      replies.push({ id: request.id, value });
    } catch (error) {
      replies.push({ id: request.id, error: toWireError(error) });
    }
  }
  return { replies, transfer };
}

function execute(db: SqliteDatabase, request: StoreRequest): unknown {
  switch (request.op) {
    case "load":
      return db.load(request.docId);
    case "compact":
      return db.compact(request.docId);
    case "countUpdates":
      return db.countUpdates(request.docId);
    case "ensure":
      return db.ensure(request.docId, request.at);
    case "create":
      return db.create(request.meta);
    case "get":
      return db.get(request.docId);
    case "list":
      return db.list(request.options);
    case "delete":
      return db.delete(request.docId);
    case "ping":
      return db.ping();
    case "close":
      return db.close();
    case "append":
      throw new Error("appends are handled in batches");
  }
}

function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const { code, docId } = error as { code?: unknown; docId?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof docId === "string" ? { docId } : {}),
  };
}

const input = workerData as WorkerInput | null;
if (parentPort && input?.sqliteFile) {
  const port = parentPort;
  // Opening may throw (unwritable folder, corrupt file): that ends the
  // worker with the error, which the store reports to every caller.
  const db = new SqliteDatabase(input.sqliteFile);
  const checkpoints =
    input.role === "maintenance"
      ? setInterval(() => {
          try {
            db.checkpoint();
          } catch {
            // Busy or failing: the WAL keeps the data; the next round retries.
          }
        }, CHECKPOINT_INTERVAL_MS)
      : null;
  let writerCheckpointAt = performance.now();
  port.on("message", (batch: NumberedRequest[]) => {
    const closing = batch.some((request) => request.op === "close");
    if (checkpoints && closing) clearInterval(checkpoints);
    const { replies, transfer } = executeBatch(db, batch);
    port.postMessage(replies, transfer);
    if (input.role === "writer" && !closing) {
      const now = performance.now();
      if (now - writerCheckpointAt >= WRITER_CHECKPOINT_INTERVAL_MS) {
        writerCheckpointAt = now;
        try {
          db.checkpoint();
        } catch {
          // The WAL keeps the data; the next round retries.
        }
      }
    }
  });
}
