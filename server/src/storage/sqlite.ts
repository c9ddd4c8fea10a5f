import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import {
  type AppendInfo,
  type CompactResult,
  type DocMeta,
  type DocStore,
  DocumentExistsError,
} from "./doc-store.ts";
import { mergeUpdateLog } from "./merge.ts";

/**
 * The default DocStore: one SQLite file (better-sqlite3) in WAL mode with
 * `synchronous=FULL`, so an append has reached the disk when it returns.
 * better-sqlite3 is synchronous; each call is short (one small transaction),
 * which is faster than a thread hop for the sizes involved.
 *
 * Group commit: appends requested in the same turn of the event loop are
 * written in one transaction, so they share one fsync. Under load this turns
 * N disk syncs into one while each append still resolves only once durable.
 */
export class SqliteDocStore implements DocStore {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly appendTx: (batch: readonly PendingAppend[]) => void;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;

  constructor(readonly file: string) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
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
    `);
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
      count: db.prepare<[string], { n: number }>(
        "SELECT count(*) AS n FROM updates WHERE doc_id = ?",
      ),
      ensure: db.prepare<[string, number, number]>(
        "INSERT INTO documents (id, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      insertDoc: db.prepare<[string, string, number, number]>(
        "INSERT INTO documents (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
      ),
      touch: db.prepare<[number, string]>("UPDATE documents SET updated_at = ? WHERE id = ?"),
      touchWithTitle: db.prepare<[number, string, string]>(
        "UPDATE documents SET updated_at = ?, title = ? WHERE id = ?",
      ),
      get: db.prepare<[string], Row>("SELECT * FROM documents WHERE id = ?"),
      list: db.prepare<[string, string, number], Row>(
        "SELECT * FROM documents WHERE substr(id, 1, length(?)) = ? ORDER BY updated_at DESC, id LIMIT ?",
      ),
      deleteUpdates: db.prepare<[string]>("DELETE FROM updates WHERE doc_id = ?"),
      deleteDoc: db.prepare<[string]>("DELETE FROM documents WHERE id = ?"),
    };
    const statements = this.statements;
    this.appendTx = db.transaction((batch: readonly PendingAppend[]) => {
      for (const { docId, update, info } of batch) {
        statements.ensure.run(docId, info.at, info.at);
        statements.insertUpdate.run(docId, update);
        if (info.title === undefined) statements.touch.run(info.at, docId);
        else statements.touchWithTitle.run(info.at, info.title, docId);
      }
    });
  }

  async load(docId: string): Promise<Uint8Array[]> {
    return this.statements.load.all(docId).map((row) => new Uint8Array(row.data));
  }

  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ docId, update, info, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flushPending());
    });
  }

  private flushPending(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      this.appendTx(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) item.resolve();
  }

  async compact(docId: string): Promise<CompactResult> {
    return this.db.transaction((): CompactResult => {
      const rows = this.statements.loadWithSeq.all(docId);
      const last = rows.at(-1);
      if (rows.length < 2 || !last) return { merged: 0, bytes: last?.data.length ?? 0 };
      const merged = mergeUpdateLog(rows.map((row) => new Uint8Array(row.data)));
      this.statements.deleteUpdatesThrough.run(docId, last.seq);
      this.statements.insertUpdate.run(docId, merged);
      return { merged: rows.length, bytes: merged.length };
    })();
  }

  async countUpdates(docId: string): Promise<number> {
    return this.statements.count.get(docId)?.n ?? 0;
  }

  async ensure(docId: string, at: number): Promise<DocMeta> {
    this.statements.ensure.run(docId, at, at);
    const row = this.statements.get.get(docId);
    if (!row) throw new Error(`document ${docId} vanished while being created`);
    return toMeta(row);
  }

  async create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    try {
      this.statements.insertDoc.run(meta.id, meta.title, meta.at, meta.at);
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
        throw new DocumentExistsError(meta.id);
      }
      throw error;
    }
    return { id: meta.id, title: meta.title, createdAt: meta.at, updatedAt: meta.at };
  }

  async get(docId: string): Promise<DocMeta | null> {
    const row = this.statements.get.get(docId);
    return row ? toMeta(row) : null;
  }

  async list(options: { limit: number; prefix?: string }): Promise<DocMeta[]> {
    const prefix = options.prefix ?? "";
    return this.statements.list.all(prefix, prefix, options.limit).map(toMeta);
  }

  async delete(docId: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.statements.deleteUpdates.run(docId);
      return this.statements.deleteDoc.run(docId).changes > 0;
    })();
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.flushPending();
    if (this.db.open) this.db.close();
  }
}

interface PendingAppend {
  docId: string;
  update: Uint8Array;
  info: AppendInfo;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Row {
  id: string;
  title: string;
  created_at: number;
  updated_at: number;
}

function toMeta(row: Row): DocMeta {
  return { id: row.id, title: row.title, createdAt: row.created_at, updatedAt: row.updated_at };
}
