/**
 * The storage seam: what every backend implements (sqlite.ts, postgres.ts;
 * memory.ts for tests).
 * A DocStore keeps, per document, a log of Yjs updates (opaque bytes) plus a
 * little metadata for the document list. Callers: room.ts (ensure, load,
 * append, compact), http-api.ts (create, get, list), server.ts (delete, ping)
 * and main.ts (ping, close).
 *
 * Contract, checked on every implementation by
 * server/test/storage-contract.test.ts (one test per promise):
 * - `load` returns every stored update, oldest first; none for an unknown
 *   document.
 * - `append` resolves only once the update is durable: a store reopened on
 *   the same data has it (and, for a persistent backend, it survives a crash
 *   of this process). Callers broadcast an update only after that. The first
 *   append creates the document; each moves its `updatedAt` to `info.at` and
 *   sets its title when `info.title` is given.
 * - Updates commute (they are CRDT updates), so any number of writers (other
 *   servers) may append to the same document concurrently, in any order.
 * - `compact` replaces the log with one update holding the same state, and
 *   keeps every update appended while it runs. It reports how many updates
 *   it merged (0 for a log of fewer than two) and the log's size afterwards.
 * - `ensure` creates a document's metadata if absent and returns existing
 *   metadata unchanged; `create` fails with `DocumentExistsError` instead.
 * - A document is *listed* once someone meant it to exist: `create` makes a
 *   listed document; `ensure` and a first `append` make an unlisted one
 *   (someone opened a link), which an append with `info.listed` lists for
 *   good. Documents stored before this flag existed are listed.
 * - `list` returns listed documents only, most recently changed first (ties
 *   by id, in byte order), at most `limit`; only ids starting with `prefix`
 *   when given; only titles containing `query` (case-insensitive) when
 *   given; only those after the `after` entry of that order when given, so
 *   that pages follow on.
 * - `delete` removes metadata and every update, resolves whether the document
 *   existed, and leaves a tombstone: afterwards `ensure` and `append` fail
 *   with `DocumentDeletedError` (so a client that reconnects after the delete
 *   cannot bring the document back), until `create` makes a new, empty
 *   document under the same id.
 * - Versions are full states of a document kept beside its log (so
 *   compaction never touches them): `saveVersion` stores one and, when the
 *   version is automatic (no name), drops the oldest automatic versions
 *   beyond `keepAutomatic`; `listVersions` gives the newest first;
 *   `loadVersion` gives one with its state, or null (unknown id, or another
 *   document's); `delete` removes a document's versions with it, and a
 *   version of a deleted document cannot be saved (DocumentDeletedError).
 * - An append refused for one document fails only its own promise, never
 *   the other appends committed with it.
 * - `ping` resolves while the store can serve requests, for /readyz; a
 *   backend that can become unreachable rejects then (tested per backend).
 */
export interface DocMeta {
  id: string;
  title: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  /** Whether the document list shows it (see the contract). */
  listed: boolean;
}

export interface ListOptions {
  limit: number;
  prefix?: string;
  /** Only titles containing this, ignoring case. */
  query?: string;
  /** Continue after this entry: the last of the previous page. */
  after?: { updatedAt: number; id: string };
}

export interface AppendInfo {
  /** When the update was accepted (milliseconds since the epoch). */
  at: number;
  /** The document's title after this update, when it changed. */
  title?: string;
  /** Set when the document has writing (title or text) and is not yet listed. */
  listed?: true;
}

export interface VersionMeta {
  id: number;
  docId: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Set for a version someone saved by name; null for an automatic one. */
  name: string | null;
  /** Display names of the people whose edits this version holds since the one before. */
  authors: string[];
  /** Size of the stored state. */
  bytes: number;
}

export interface NewVersion {
  at: number;
  name: string | null;
  authors: string[];
  /** The document's whole state (Y.encodeStateAsUpdate). */
  state: Uint8Array;
  /** Automatic versions kept per document, the newest; older ones are dropped. */
  keepAutomatic: number;
}

/** The metadata of `version` once stored under `id`: the same on every backend. */
export function versionMetaOf(id: number, docId: string, version: NewVersion): VersionMeta {
  return {
    id,
    docId,
    createdAt: version.at,
    name: version.name,
    authors: [...version.authors],
    bytes: version.state.length,
  };
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
  compact(docId: string): Promise<CompactResult>;
  ensure(docId: string, at: number): Promise<DocMeta>;
  create(meta: { id: string; title: string; at: number }): Promise<DocMeta>;
  get(docId: string): Promise<DocMeta | null>;
  list(options: ListOptions): Promise<DocMeta[]>;
  delete(docId: string): Promise<boolean>;
  saveVersion(docId: string, version: NewVersion): Promise<VersionMeta>;
  listVersions(docId: string, limit: number): Promise<VersionMeta[]>;
  loadVersion(
    docId: string,
    versionId: number,
  ): Promise<{ meta: VersionMeta; state: Uint8Array } | null>;
  ping(): Promise<void>;
  /** Finishes what was requested, then releases the backing store. */
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
