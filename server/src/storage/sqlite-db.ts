import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import {
  type AppendInfo,
  type CompactResult,
  type DocMeta,
  DocumentDeletedError,
  DocumentExistsError,
  type ListOptions,
  type NewVersion,
  type VersionMeta,
  versionMetaOf,
} from "./doc-store.ts";
import { mergeUpdateLog } from "./merge.ts";

/**
 * The SQLite layer itself: synchronous better-sqlite3 calls on one
 * connection, in WAL mode.
 *
 * Two connections share the file: the writer (appends, reads, metadata), on
 * the server's thread (sqlite-writer.ts), and maintenance (compaction and
 * WAL checkpoints), on a worker thread (sqlite-maintenance.ts). Automatic
 * checkpoints are off on both, so no append ever waits for a checkpoint's
 * copying and fsyncs; maintenance checkpoints in the background instead.
 *
 * Both use `synchronous=FULL`: a commit has reached the disk when the call
 * returns.
 */
export class SqliteDatabase {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly appendTx: Database.Transaction<
    (batch: readonly AppendItem[], ensured: string[], refused: Set<string>) => boolean
  >;
  /** Documents whose metadata row exists: their appends skip the `ensure`. */
  private readonly known = new Set<string>();
  /**
   * `updated_at` values not yet written. Writing them on every append would
   * add two B-tree pages (row and index) to every commit; they are written at
   * most every touchIntervalMs, and always before metadata is read, so no
   * reader ever sees a stale value. A crash can lose the last second of them.
   * Entries leave the map only once the transaction that wrote them has
   * committed, and writes only ever move `updated_at` forward, so a rolled
   * back or repeated write loses nothing.
   */
  private readonly pendingTouches = new Map<string, number>();
  private touchesWrittenAt = 0;

  /**
   * @param busyTimeoutMs how long a statement waits for another connection's
   *   write lock before failing with SQLITE_BUSY. The waiting blocks this
   *   connection's thread: the server's own thread for the writer.
   */
  constructor(
    readonly file: string,
    private readonly busyTimeoutMs = 5000,
  ) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    try {
      configure(this.db, busyTimeoutMs);
    } catch (error) {
      // A file that is not a database, or is locked: do not leak the handle
      // (the writer tries to open again on its next request).
      this.db.close();
      throw error;
    }
    const db = this.db;
    this.statements = {
      load: db.prepare<[string], { data: Buffer }>(
        "SELECT data FROM updates WHERE doc_id = ? ORDER BY seq",
      ),
      loadWithSeq: db.prepare<[string], { seq: number; data: Buffer }>(
        "SELECT seq, data FROM updates WHERE doc_id = ? ORDER BY seq",
      ),
      insertUpdate: db.prepare<[string, Uint8Array]>(
        "INSERT INTO updates (doc_id, data) VALUES (?, ?)",
      ),
      deleteUpdatesThrough: db.prepare<[string, number]>(
        "DELETE FROM updates WHERE doc_id = ? AND seq <= ?",
      ),
      ensure: db.prepare<[string, number, number]>(
        "INSERT INTO documents (id, created_at, updated_at, listed) VALUES (?, ?, ?, 0) ON CONFLICT (id) DO NOTHING",
      ),
      insertDoc: db.prepare<[string, string, number, number]>(
        "INSERT INTO documents (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
      ),
      touch: db.prepare<[number, string]>(
        "UPDATE documents SET updated_at = max(updated_at, ?) WHERE id = ?",
      ),
      touchWithTitle: db.prepare<[number, string, string]>(
        "UPDATE documents SET updated_at = max(updated_at, ?), title = ? WHERE id = ?",
      ),
      markListed: db.prepare<[string]>("UPDATE documents SET listed = 1 WHERE id = ?"),
      get: db.prepare<[string], Row>("SELECT * FROM documents WHERE id = ?"),
      list: db.prepare<[ListParams], Row>(
        `SELECT * FROM documents
         WHERE listed = 1 AND substr(id, 1, length(@prefix)) = @prefix
           AND (@query = '' OR instr(lower(title), lower(@query)) > 0)
           AND (@afterAt IS NULL OR updated_at < @afterAt
                OR (updated_at = @afterAt AND id > @afterId))
         ORDER BY updated_at DESC, id LIMIT @limit`,
      ),
      deleteUpdates: db.prepare<[string]>("DELETE FROM updates WHERE doc_id = ?"),
      deleteDoc: db.prepare<[string]>("DELETE FROM documents WHERE id = ?"),
      isDeleted: db.prepare<[string], { n: number }>(
        "SELECT 1 AS n FROM deleted_documents WHERE id = ?",
      ),
      bury: db.prepare<[string, number]>(
        "INSERT INTO deleted_documents (id, deleted_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      unbury: db.prepare<[string]>("DELETE FROM deleted_documents WHERE id = ?"),
      insertVersion: db.prepare<[string, number, string | null, string, Uint8Array]>(
        "INSERT INTO versions (doc_id, created_at, name, authors, state) VALUES (?, ?, ?, ?, ?)",
      ),
      pruneAutomatic: db.prepare<[string, string, number]>(
        `DELETE FROM versions WHERE doc_id = ? AND name IS NULL AND id NOT IN (
           SELECT id FROM versions WHERE doc_id = ? AND name IS NULL ORDER BY id DESC LIMIT ?)`,
      ),
      listVersions: db.prepare<[string, number], VersionRow>(
        `SELECT id, doc_id, created_at, name, authors, length(state) AS bytes FROM versions
         WHERE doc_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
      ),
      loadVersion: db.prepare<[number, string], VersionRow & { state: Buffer }>(
        `SELECT id, doc_id, created_at, name, authors, length(state) AS bytes, state
         FROM versions WHERE id = ? AND doc_id = ?`,
      ),
      deleteVersions: db.prepare<[string]>("DELETE FROM versions WHERE doc_id = ?"),
    };
    const statements = this.statements;
    this.appendTx = db.transaction(
      (batch: readonly AppendItem[], ensured: string[], refused: Set<string>) => {
        for (const { docId, update, info } of batch) {
          if (refused.has(docId)) continue;
          if (!this.known.has(docId) && !ensured.includes(docId)) {
            if (statements.isDeleted.get(docId)) {
              refused.add(docId);
              continue;
            }
            statements.ensure.run(docId, info.at, info.at);
            ensured.push(docId);
          }
          statements.insertUpdate.run(docId, update);
          if (info.listed) statements.markListed.run(docId);
          if (info.title === undefined) {
            this.pendingTouches.set(docId, Math.max(info.at, this.pendingTouches.get(docId) ?? 0));
          } else {
            statements.touchWithTitle.run(info.at, info.title, docId);
          }
        }
        const due = performance.now() - this.touchesWrittenAt >= touchIntervalMs;
        if (due) this.writeTouches();
        return due;
      },
    );
  }

  load(docId: string): Uint8Array[] {
    return this.statements.load.all(docId).map((row) => new Uint8Array(row.data));
  }

  /**
   * Writes every append in one transaction: one fsync for the whole batch.
   * Returns the documents whose appends were refused (deleted ones).
   */
  appendBatch(batch: readonly AppendItem[]): Set<string> {
    const ensured: string[] = [];
    const refused = new Set<string>();
    // IMMEDIATE: take the write lock up front. A deferred transaction that
    // meets the maintenance connection's write would fail with
    // SQLITE_BUSY_SNAPSHOT instead of waiting for it.
    const touched = this.appendTx.immediate(batch, ensured, refused);
    // Only after the commit: a rolled-back `ensure` created nothing, and
    // rolled-back touches are still pending.
    for (const docId of ensured) this.known.add(docId);
    if (touched) this.touchesCommitted();
    return refused;
  }

  /** Inside a transaction: writes every pending `updated_at`. */
  private writeTouches(): void {
    for (const [docId, at] of this.pendingTouches) this.statements.touch.run(at, docId);
  }

  private touchesCommitted(): void {
    this.pendingTouches.clear();
    this.touchesWrittenAt = performance.now();
  }

  /**
   * Writes pending `updated_at` values before anything reads metadata. When
   * the database takes no writes (locked by another process, disk full), a
   * read goes ahead with values up to a second old rather than fail.
   */
  private flushTouches(): void {
    if (this.pendingTouches.size === 0) return;
    try {
      this.db.transaction(() => this.writeTouches()).immediate();
    } catch {
      return;
    }
    this.touchesCommitted();
  }

  /**
   * Merges the document's log into one update. The merge (CPU-heavy for big
   * documents) runs between a read and a short write transaction, so the
   * writer connection is held up only for the final delete and insert.
   * Appends made meanwhile have higher sequence numbers and are kept.
   */
  compact(docId: string): CompactResult {
    const rows = this.db.transaction(() => this.statements.loadWithSeq.all(docId))();
    const last = rows.at(-1);
    if (rows.length < 2 || !last) return { merged: 0, bytes: last?.data.length ?? 0 };
    const merged = mergeUpdateLog(rows.map((row) => row.data));
    const replace = this.db.transaction(() => {
      // Exactly the rows merged must still be there: if the document was
      // deleted (and perhaps created again) meanwhile, merging into it
      // would bring the deleted content back.
      if (this.statements.deleteUpdatesThrough.run(docId, last.seq).changes !== rows.length) {
        throw new CompactionRaced();
      }
      this.statements.insertUpdate.run(docId, merged);
    });
    try {
      replace.immediate();
    } catch (error) {
      if (error instanceof CompactionRaced) return { merged: 0, bytes: 0 };
      throw error;
    }
    return { merged: rows.length, bytes: merged.length };
  }

  /**
   * Copies committed WAL frames into the database file without blocking
   * writers. Never waits: if the other connection is checkpointing right
   * now, this one is skipped (waiting would stall whatever this connection
   * does next, appends included).
   */
  checkpoint(): void {
    this.db.pragma("busy_timeout = 0");
    try {
      this.db.pragma("wal_checkpoint(PASSIVE)");
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
  }

  ensure(docId: string, at: number): DocMeta {
    this.flushTouches();
    if (!this.known.has(docId) && this.statements.isDeleted.get(docId)) {
      throw new DocumentDeletedError(docId);
    }
    // Read first: opening an existing document must not need the write lock.
    let row = this.statements.get.get(docId);
    if (!row) {
      this.statements.ensure.run(docId, at, at);
      row = this.statements.get.get(docId);
    }
    if (!row) throw new Error(`document ${docId} vanished while being created`);
    return toMeta(row);
  }

  create(meta: { id: string; title: string; at: number }): DocMeta {
    try {
      this.db
        .transaction(() => {
          this.statements.insertDoc.run(meta.id, meta.title, meta.at, meta.at);
          this.statements.unbury.run(meta.id);
        })
        .immediate();
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        throw new DocumentExistsError(meta.id);
      }
      throw error;
    }
    return { id: meta.id, title: meta.title, createdAt: meta.at, updatedAt: meta.at, listed: true };
  }

  get(docId: string): DocMeta | null {
    this.flushTouches();
    const row = this.statements.get.get(docId);
    return row ? toMeta(row) : null;
  }

  list(options: ListOptions): DocMeta[] {
    this.flushTouches();
    return this.statements.list
      .all({
        prefix: options.prefix ?? "",
        query: options.query ?? "",
        afterAt: options.after?.updatedAt ?? null,
        afterId: options.after?.id ?? "",
        limit: options.limit,
      })
      .map(toMeta);
  }

  delete(docId: string): boolean {
    this.known.delete(docId);
    this.pendingTouches.delete(docId);
    return this.db
      .transaction(() => {
        this.statements.deleteUpdates.run(docId);
        this.statements.deleteVersions.run(docId);
        const existed = this.statements.deleteDoc.run(docId).changes > 0;
        if (existed) this.statements.bury.run(docId, Date.now());
        return existed;
      })
      .immediate();
  }

  saveVersion(docId: string, version: NewVersion): VersionMeta {
    const id = this.db
      .transaction(() => {
        if (this.statements.isDeleted.get(docId)) throw new DocumentDeletedError(docId);
        const { lastInsertRowid } = this.statements.insertVersion.run(
          docId,
          version.at,
          version.name,
          JSON.stringify(version.authors),
          version.state,
        );
        if (version.name === null) {
          this.statements.pruneAutomatic.run(docId, docId, version.keepAutomatic);
        }
        return Number(lastInsertRowid);
      })
      .immediate();
    return versionMetaOf(id, docId, version);
  }

  listVersions(docId: string, limit: number): VersionMeta[] {
    return this.statements.listVersions.all(docId, limit).map(toVersionMeta);
  }

  loadVersion(docId: string, versionId: number): { meta: VersionMeta; state: Uint8Array } | null {
    const row = this.statements.loadVersion.get(versionId, docId);
    return row ? { meta: toVersionMeta(row), state: new Uint8Array(row.state) } : null;
  }

  ping(): void {
    this.db.prepare("SELECT 1").get();
  }

  /** This connection's durability pragmas, as SQLite reports them (for tests). */
  durability(): Durability {
    return {
      journalMode: String(this.db.pragma("journal_mode", { simple: true })),
      synchronous: Number(this.db.pragma("synchronous", { simple: true })),
    };
  }

  close(): void {
    if (!this.db.open) return;
    try {
      this.flushTouches();
    } finally {
      this.db.close();
    }
  }
}

/** Pragmas and schema, on a freshly opened connection. */
function configure(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma("wal_autocheckpoint = 0");
  // After a burst, a checkpointed WAL is cut back to this size.
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS documents (
      id TEXT PRIMARY KEY,
      title TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS documents_updated_at ON documents (updated_at DESC);
    CREATE TABLE IF NOT EXISTS updates (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
      data BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS updates_doc_seq ON updates (doc_id, seq);
    CREATE TABLE IF NOT EXISTS deleted_documents (
      id TEXT PRIMARY KEY,
      deleted_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS versions (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      doc_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      name TEXT,
      authors TEXT NOT NULL,
      state BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS versions_doc ON versions (doc_id, id);
  `);
  // Added later: documents stored before it were all listed. Under the write
  // lock, as the other connection may be adding it at the same moment.
  db.transaction(() => {
    const columns = db.prepare<[], { name: string }>("PRAGMA table_info(documents)").all();
    if (!columns.some((column) => column.name === "listed")) {
      db.exec("ALTER TABLE documents ADD COLUMN listed INTEGER NOT NULL DEFAULT 1");
    }
  }).immediate();
}

const touchIntervalMs = 1000;

/** Rolls back a compaction whose rows changed under it. */
class CompactionRaced extends Error {}

/** `synchronous`: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
export interface Durability {
  journalMode: string;
  synchronous: number;
}

export interface AppendItem {
  docId: string;
  update: Uint8Array;
  info: AppendInfo;
}

interface Row {
  id: string;
  title: string;
  created_at: number;
  updated_at: number;
  listed: number;
}

interface VersionRow {
  id: number;
  doc_id: string;
  created_at: number;
  name: string | null;
  authors: string;
  bytes: number;
}

function toVersionMeta(row: VersionRow): VersionMeta {
  return {
    id: row.id,
    docId: row.doc_id,
    createdAt: row.created_at,
    name: row.name,
    authors: JSON.parse(row.authors) as string[],
    bytes: row.bytes,
  };
}

interface ListParams {
  prefix: string;
  query: string;
  afterAt: number | null;
  afterId: string;
  limit: number;
}

function toMeta(row: Row): DocMeta {
  return {
    id: row.id,
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    listed: row.listed === 1,
  };
}
