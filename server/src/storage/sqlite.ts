/**
 * The default DocStore: one SQLite file in WAL mode, with two connections.
 *
 * - The writer (sqlite-writer.ts), on the server's thread, takes appends,
 *   reads and metadata. Requests made in one turn of the event loop run
 *   together at its end, consecutive appends in one transaction: under load
 *   many appends share one fsync (group commit), and an append resolves
 *   once its transaction is on disk.
 * - Maintenance (sqlite-maintenance.ts), on a worker thread, takes
 *   compactions and checkpoints the WAL from the first write until close,
 *   so a merge (which decodes a whole document) and a checkpoint's copying
 *   run off the event loop. A compaction's final write (delete the merged
 *   rows, insert one, fsync) takes the write lock briefly; a commit that
 *   meets it waits for it, and so does the event loop.
 *
 * Requests to the writer run and resolve in the order they were made, reads
 * included, so a read always sees every write requested before it.
 */
import type {
  AppendInfo,
  CompactResult,
  DocMeta,
  DocStore,
  ListOptions,
  NewVersion,
  VersionMeta,
} from "./doc-store.ts";
import type { Durability } from "./sqlite-db.ts";
import { SqliteMaintenance } from "./sqlite-maintenance.ts";
import { SqliteWriter } from "./sqlite-writer.ts";

export class SqliteDocStore implements DocStore {
  private readonly writer: SqliteWriter;
  private readonly maintenance: SqliteMaintenance;
  private closed = false;

  constructor(readonly file: string) {
    // Two connections must see the same database: an in-memory one is
    // private to each. MemoryDocStore is the in-memory store.
    if (file === ":memory:" || file === "") {
      throw new Error("SqliteDocStore needs a database file (use MemoryDocStore in memory)");
    }
    this.writer = new SqliteWriter(file);
    this.maintenance = new SqliteMaintenance({ sqliteFile: file });
  }

  load(docId: string): Promise<Uint8Array[]> {
    return this.write((writer) => writer.load(docId));
  }

  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    // Writes need checkpoints: the first starts maintenance (later calls do
    // nothing), which runs until close and replaces a worker that dies.
    this.maintenance.start();
    return this.writer.append(docId, update, info);
  }

  compact(docId: string): Promise<CompactResult> {
    if (this.closed) return Promise.reject(closedError());
    return this.maintenance.compact(docId);
  }

  ensure(docId: string, at: number): Promise<DocMeta> {
    return this.write((writer) => writer.ensure(docId, at));
  }

  create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    return this.write((writer) => writer.create(meta));
  }

  get(docId: string): Promise<DocMeta | null> {
    return this.write((writer) => writer.get(docId));
  }

  list(options: ListOptions): Promise<DocMeta[]> {
    return this.write((writer) => writer.list(options));
  }

  saveVersion(docId: string, version: NewVersion): Promise<VersionMeta> {
    return this.write((writer) => writer.saveVersion(docId, version));
  }

  listVersions(docId: string, limit: number): Promise<VersionMeta[]> {
    return this.write((writer) => writer.listVersions(docId, limit));
  }

  loadVersion(
    docId: string,
    versionId: number,
  ): Promise<{ meta: VersionMeta; state: Uint8Array } | null> {
    return this.write((writer) => writer.loadVersion(docId, versionId));
  }

  delete(docId: string): Promise<boolean> {
    return this.write((writer) => writer.delete(docId));
  }

  ping(): Promise<void> {
    return this.write((writer) => writer.ping());
  }

  /**
   * The durability pragmas of both connections (writer and maintenance), as
   * SQLite reports them: for tests that the settings crash safety rests on
   * are in force, which killing the process cannot show.
   */
  async durability(): Promise<{ writer: Durability; maintenance: Durability }> {
    const [writer, maintenance] = await Promise.all([
      this.write((writer) => writer.durability()),
      this.closed ? Promise.reject(closedError()) : this.maintenance.durability(),
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

  /** A call to the writer connection, refused once the store is closing. */
  private write<T>(call: (writer: SqliteWriter) => Promise<T>): Promise<T> {
    return this.closed ? Promise.reject(closedError()) : call(this.writer);
  }
}

function closedError(): Error {
  return new Error("the document store is closed");
}
