/**
 * Requests to a SQLite connection, run in batches, in order: consecutive
 * appends of a batch share one transaction, so one commit covers them all
 * (group commit). Used by the writer on the server's thread and by the
 * maintenance worker thread; the requests, and replies as the worker sends
 * them (StoreReply, WireError), are plain data that can cross a thread
 * boundary.
 */
import { type AppendInfo, DocumentDeletedError, DocumentExistsError } from "./doc-store.ts";
import type { AppendItem, SqliteDatabase } from "./sqlite-db.ts";

export type StoreRequest =
  | { op: "append"; docId: string; update: Uint8Array; info: AppendInfo }
  | { op: "load"; docId: string }
  | { op: "compact"; docId: string }
  | { op: "ensure"; docId: string; at: number }
  | { op: "create"; meta: { id: string; title: string; at: number } }
  | { op: "get"; docId: string }
  | { op: "list"; options: { limit: number; prefix?: string } }
  | { op: "delete"; docId: string }
  | { op: "ping" }
  | { op: "durability" }
  | { op: "close" };

export type NumberedRequest = StoreRequest & { id: number };

/** A request waiting for its reply. */
export interface Pending<R = NumberedRequest> {
  request: R;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** Adds a request to `queue`; the promise settles with its reply. */
export function enqueue<T, R>(queue: Pending<R>[], request: R): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    queue.push({ request, resolve: resolve as (value: unknown) => void, reject });
  });
}

/** How one request of a batch ended. */
export type Outcome = { value: unknown } | { error: unknown };

/** An error as it crosses the thread boundary (enough to rebuild the typed ones). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  docId?: string;
}

export type StoreReply = { id: number; value: unknown } | { id: number; error: WireError };

/** Runs a batch in order; returns one outcome per request, in the same order. */
export function executeBatch(db: SqliteDatabase, batch: readonly StoreRequest[]): Outcome[] {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < batch.length; ) {
    const request = batch[i] as StoreRequest;
    if (request.op === "append") {
      // Every append up to the next non-append: one transaction.
      const appends: AppendItem[] = [];
      while (i < batch.length && batch[i]?.op === "append") {
        appends.push(batch[i] as AppendItem);
        i++;
      }
      try {
        const refused = db.appendBatch(appends);
        for (const { docId } of appends) {
          outcomes.push(
            refused.has(docId) ? { error: new DocumentDeletedError(docId) } : { value: undefined },
          );
        }
      } catch (error) {
        for (const _ of appends) outcomes.push({ error });
      }
      continue;
    }
    i++;
    try {
      outcomes.push({ value: execute(db, request) });
    } catch (error) {
      outcomes.push({ error });
    }
  }
  return outcomes;
}

function execute(db: SqliteDatabase, request: StoreRequest): unknown {
  switch (request.op) {
    case "load":
      return db.load(request.docId);
    case "compact":
      return db.compact(request.docId);
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
    case "durability":
      return db.durability();
    case "close":
      return db.close();
    case "append":
      throw new Error("appends are handled in batches");
  }
}

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const { code, docId } = error as { code?: unknown; docId?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof docId === "string" ? { docId } : {}),
  };
}

export function fromWireError(wire: WireError): Error {
  if (wire.name === "DocumentExistsError" && wire.docId !== undefined) {
    return new DocumentExistsError(wire.docId);
  }
  if (wire.name === "DocumentDeletedError" && wire.docId !== undefined) {
    return new DocumentDeletedError(wire.docId);
  }
  const error = new Error(wire.message) as Error & { code?: string };
  error.name = wire.name;
  if (wire.code !== undefined) error.code = wire.code;
  return error;
}
