/**
 * The storage seam. A DocStore keeps, per document, a log of Yjs updates
 * (opaque bytes) plus a little metadata for the document list.
 *
 * Contract, checked by test/storage-contract.ts for every implementation:
 * - `append` resolves only once the update is durable (survives a crash of
 *   this process); callers broadcast an update only after that.
 * - Updates commute (they are CRDT updates), so any number of writers may
 *   append to the same document concurrently, in any order.
 * - `compact` replaces the log with one merged update holding the same state.
 *   It must be safe against concurrent appends: it merges only rows it has
 *   read inside the same transaction.
 * - `ensure` creates a document's metadata row if absent and never fails if it
 *   already exists; `create` fails with `DocumentExistsError` instead.
 * - `delete` removes metadata and every update, and leaves a tombstone:
 *   afterwards `ensure` and `append` fail with `DocumentDeletedError` (so a
 *   client that reconnects after the delete cannot bring the document back),
 *   until `create` makes a new, empty document under the same id.
 * - An append refused for one document fails only its own promise, never
 *   the other appends committed with it.
 */
export interface DocMeta {
  id: string;
  title: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
}

export interface AppendInfo {
  /** When the update was accepted (milliseconds since the epoch). */
  at: number;
  /** The document's title after this update, when it changed. */
  title?: string;
}

export interface CompactResult {
  /** Updates merged (0 when there was nothing to merge). */
  merged: number;
  /** Size of the document's log afterwards, in bytes. */
  bytes: number;
}

export interface DocStore {
  /** Every stored update of the document, oldest first; empty if none. */
  load(docId: string): Promise<Uint8Array[]>;
  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void>;
  /** Merges the log into one update: how many updates were merged, and its size. */
  compact(docId: string): Promise<CompactResult>;
  /** How many updates are in the document's log (compaction heuristic). */
  countUpdates(docId: string): Promise<number>;
  ensure(docId: string, at: number): Promise<DocMeta>;
  create(meta: { id: string; title: string; at: number }): Promise<DocMeta>;
  get(docId: string): Promise<DocMeta | null>;
  /** Newest change first; only ids starting with `prefix` when given. */
  list(options: { limit: number; prefix?: string }): Promise<DocMeta[]>;
  /** Resolves true if the document existed. */
  delete(docId: string): Promise<boolean>;
  /** Throws if the backing store is unreachable (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DocumentDeletedError extends Error {
  override name = "DocumentDeletedError";
  constructor(readonly docId: string) {
    super(`document ${docId} was deleted`);
  }
}

export class DocumentExistsError extends Error {
  override name = "DocumentExistsError";
  constructor(readonly docId: string) {
    super(`document ${docId} already exists`);
  }
}
