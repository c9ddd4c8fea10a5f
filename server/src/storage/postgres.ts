/**
 * A DocStore on PostgreSQL, for running several servers on one database.
 *
 * - Appends requested in one turn of the event loop commit together in one
 *   transaction (group commit), one batch at a time: appends that arrive
 *   while a batch commits wait for the next one, so under load many appends
 *   share one commit. An append resolves once its transaction has committed,
 *   which with PostgreSQL's default `synchronous_commit=on` means its WAL
 *   record is flushed to disk.
 * - Updates carry a `bigserial` sequence: a document's log is its rows in
 *   sequence order. Sequence numbers are taken at insert, not at commit, so
 *   a row from a transaction still in flight can end up below rows already
 *   visible; compaction copes with that (see `compact`).
 * - Tombstones and appends: `delete` and `create` take a per-document
 *   advisory lock exclusively, appends and `ensure` take it shared, so an
 *   append either commits before the delete or sees its tombstone; without
 *   it an append racing a delete could insert the document again.
 * - Compaction takes a second, per-document advisory lock (try, not wait)
 *   so two servers do not merge the same document at once; the loser
 *   reports nothing merged.
 *
 * The schema is created on first use if absent (see `migrate`).
 */
import pg from "pg";
import {
  type AppendInfo,
  type CompactResult,
  type DocMeta,
  type DocStore,
  DocumentDeletedError,
  DocumentExistsError,
  type ListOptions,
  type NewVersion,
  type VersionMeta,
  versionMetaOf,
} from "./doc-store.ts";
import { mergeUpdateLog } from "./merge.ts";

/**
 * Advisory lock key spaces (the first of the two int4 keys), so our locks
 * do not collide with another application's on the same database. The
 * second key is `hashtext(doc_id)`: a hash collision only serialises two
 * documents' deletes and appends, it never lets one pass the other.
 */
const lockSpace = {
  migrate: 0x436f7700,
  document: 0x436f7701,
  compact: 0x436f7702,
} as const;

/** Waiting this long for a connection fails the request (and /readyz). */
const connectTimeoutMs = 5000;

interface AppendJob {
  docId: string;
  update: Uint8Array;
  info: AppendInfo;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Row {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  listed: boolean;
}

export class PostgresDocStore implements DocStore {
  private readonly pool: pg.Pool;
  /** Whether close() ends the pool: only one this store made itself. */
  private readonly ownsPool: boolean;
  private migrated: Promise<void> | null = null;
  private queue: AppendJob[] = [];
  private scheduled = false;
  /** The batch being committed, if any; the next waits for it. */
  private committing: Promise<void> | null = null;
  private closed = false;

  /**
   * @param connection a connection string (`postgresql://user@host/db`):
   *   the store makes its own pool and ends it on close. Or a `pg.Pool`
   *   shared with others: the caller keeps it, ends it after `close()`, and
   *   should listen for its `error` event (idle clients that lose their
   *   connection emit it).
   */
  constructor(connection: string | pg.Pool) {
    if (typeof connection === "string") {
      this.pool = new pg.Pool({
        connectionString: connection,
        connectionTimeoutMillis: connectTimeoutMs,
      });
      // An idle client whose connection drops is removed from the pool and
      // reported here; without a listener the error would crash the process.
      // The next request opens a new connection (or fails, and ping says so).
      this.pool.on("error", () => {});
      this.ownsPool = true;
    } else {
      this.pool = connection;
      this.ownsPool = false;
    }
  }

  async load(docId: string): Promise<Uint8Array[]> {
    const { rows } = await this.query<{ data: Buffer }>(
      "SELECT data FROM updates WHERE doc_id = $1 ORDER BY seq",
      [docId],
    );
    return rows.map((row) => new Uint8Array(row.data));
  }

  append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ docId, update, info, resolve, reject });
      if (!this.scheduled) {
        // Wait for the rest of this turn, so appends made in the same turn
        // (a burst of updates from many clients) commit together.
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.commitQueued();
        });
      }
    });
  }

  /**
   * Merges the rows read into one and replaces exactly those rows, in one
   * transaction. Appends committed meanwhile have other rows and are kept.
   * If the delete removes more or fewer rows than were read (a row from an
   * append in flight during the read committed with a lower sequence, or
   * the document was deleted meanwhile) it rolls back and reports nothing
   * merged: merging into a deleted document would bring its content back,
   * and the next compaction will do the work.
   */
  async compact(docId: string): Promise<CompactResult> {
    this.refuseIfClosed();
    return this.transaction(async (client) => {
      const locked = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked",
        [lockSpace.compact, docId],
      );
      if (!locked.rows[0]?.locked) return { merged: 0, bytes: 0 };
      const { rows } = await client.query<{ seq: string; data: Buffer }>(
        "SELECT seq, data FROM updates WHERE doc_id = $1 ORDER BY seq",
        [docId],
      );
      const last = rows.at(-1);
      if (rows.length < 2 || !last) return { merged: 0, bytes: last?.data.length ?? 0 };
      const merged = mergeUpdateLog(rows.map((row) => row.data));
      const deleted = await client.query("DELETE FROM updates WHERE doc_id = $1 AND seq <= $2", [
        docId,
        last.seq,
      ]);
      if (deleted.rowCount !== rows.length) throw new CompactionRaced();
      await client.query("INSERT INTO updates (doc_id, data) VALUES ($1, $2)", [docId, merged]);
      return { merged: rows.length, bytes: merged.length };
    }).catch((error: unknown) => {
      if (error instanceof CompactionRaced) return { merged: 0, bytes: 0 };
      throw error;
    });
  }

  async ensure(docId: string, at: number): Promise<DocMeta> {
    this.refuseIfClosed();
    return this.transaction(async (client) => {
      await lockDocument(client, docId, "shared");
      const buried = await client.query("SELECT 1 FROM deleted_documents WHERE id = $1", [docId]);
      if (buried.rows.length > 0) throw new DocumentDeletedError(docId);
      // Separate statements: the SELECT's snapshot must see a row another
      // server inserted while this INSERT waited on it.
      await client.query(
        "INSERT INTO documents (id, created_at, updated_at, listed) VALUES ($1, $2, $2, false) ON CONFLICT (id) DO NOTHING",
        [docId, at],
      );
      const { rows } = await client.query<Row>("SELECT * FROM documents WHERE id = $1", [docId]);
      if (!rows[0]) throw new Error(`document ${docId} vanished while being created`);
      return toMeta(rows[0]);
    });
  }

  async create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    this.refuseIfClosed();
    try {
      await this.transaction(async (client) => {
        await lockDocument(client, meta.id, "exclusive");
        await client.query(
          "INSERT INTO documents (id, title, created_at, updated_at) VALUES ($1, $2, $3, $3)",
          [meta.id, meta.title, meta.at],
        );
        await client.query("DELETE FROM deleted_documents WHERE id = $1", [meta.id]);
      });
    } catch (error) {
      if ((error as { code?: string }).code === "23505") throw new DocumentExistsError(meta.id);
      throw error;
    }
    return { id: meta.id, title: meta.title, createdAt: meta.at, updatedAt: meta.at, listed: true };
  }

  async get(docId: string): Promise<DocMeta | null> {
    const { rows } = await this.query<Row>("SELECT * FROM documents WHERE id = $1", [docId]);
    return rows[0] ? toMeta(rows[0]) : null;
  }

  async list(options: ListOptions): Promise<DocMeta[]> {
    const { rows } = await this.query<Row>(
      `SELECT * FROM documents
       WHERE listed AND starts_with(id, $1)
         AND ($2 = '' OR strpos(lower(title), lower($2)) > 0)
         AND ($3::bigint IS NULL OR updated_at < $3
              OR (updated_at = $3 AND id COLLATE "C" > $4))
       ORDER BY updated_at DESC, id COLLATE "C" LIMIT $5`,
      [
        options.prefix ?? "",
        options.query ?? "",
        options.after?.updatedAt ?? null,
        options.after?.id ?? "",
        options.limit,
      ],
    );
    return rows.map(toMeta);
  }

  async saveVersion(docId: string, version: NewVersion): Promise<VersionMeta> {
    this.refuseIfClosed();
    const id = await this.transaction(async (client) => {
      await lockDocument(client, docId, "shared");
      const buried = await client.query("SELECT 1 FROM deleted_documents WHERE id = $1", [docId]);
      if (buried.rows.length > 0) throw new DocumentDeletedError(docId);
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO versions (doc_id, created_at, name, authors, state)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [docId, version.at, version.name, JSON.stringify(version.authors), version.state],
      );
      if (version.name === null) {
        await client.query(
          `DELETE FROM versions WHERE doc_id = $1 AND name IS NULL AND id NOT IN (
             SELECT id FROM versions WHERE doc_id = $1 AND name IS NULL ORDER BY id DESC LIMIT $2)`,
          [docId, version.keepAutomatic],
        );
      }
      return Number(rows[0]?.id);
    });
    return versionMetaOf(id, docId, version);
  }

  async listVersions(docId: string, limit: number): Promise<VersionMeta[]> {
    const { rows } = await this.query<VersionRow>(
      `SELECT id, doc_id, created_at, name, authors, octet_length(state) AS bytes FROM versions
       WHERE doc_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [docId, limit],
    );
    return rows.map(toVersionMeta);
  }

  async loadVersion(
    docId: string,
    versionId: number,
  ): Promise<{ meta: VersionMeta; state: Uint8Array } | null> {
    const { rows } = await this.query<VersionRow & { state: Buffer }>(
      `SELECT id, doc_id, created_at, name, authors, octet_length(state) AS bytes, state
       FROM versions WHERE id = $1 AND doc_id = $2`,
      [versionId, docId],
    );
    const row = rows[0];
    return row ? { meta: toVersionMeta(row), state: new Uint8Array(row.state) } : null;
  }

  async delete(docId: string): Promise<boolean> {
    this.refuseIfClosed();
    return this.transaction(async (client) => {
      await lockDocument(client, docId, "exclusive");
      await client.query("DELETE FROM updates WHERE doc_id = $1", [docId]);
      await client.query("DELETE FROM versions WHERE doc_id = $1", [docId]);
      const deleted = await client.query("DELETE FROM documents WHERE id = $1", [docId]);
      const existed = (deleted.rowCount ?? 0) > 0;
      if (existed) {
        await client.query(
          "INSERT INTO deleted_documents (id, deleted_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
          [docId, Date.now()],
        );
      }
      return existed;
    });
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1");
  }

  /** Commits every append requested so far, then ends the pool if the store made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.committing || this.queue.length > 0) {
      await (this.committing ?? this.commitQueued());
    }
    if (this.ownsPool) await this.pool.end();
  }

  /** Commits the queued appends in one transaction, after the batch before it. */
  private commitQueued(): Promise<void> {
    if (this.committing) return this.committing;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return Promise.resolve();
    this.committing = this.commitBatch(batch).finally(() => {
      this.committing = null;
      // Appends that arrived during the commit form the next batch.
      if (this.queue.length > 0 && !this.scheduled) void this.commitQueued();
    });
    return this.committing;
  }

  /**
   * Refuses a new request once close() has begun. Only new ones: the
   * appends close() still commits go through `transaction` directly.
   */
  private refuseIfClosed(): void {
    if (this.closed) throw closedError();
  }

  /** Runs `work` in a transaction, once the schema is in place. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.migrate();
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is broken: destroy it
      // rather than return it to the pool.
      await client.query("ROLLBACK").then(
        () => client.release(),
        (rollbackError: Error) => client.release(rollbackError),
      );
      throw error;
    }
  }

  /**
   * One transaction for a batch of appends. An append refused for a deleted
   * document fails alone; a failed commit fails them all.
   */
  private async commitBatch(batch: AppendJob[]): Promise<void> {
    // Per document: created at its first append, changed at its latest, and
    // titled by its last append that gave a title.
    const docs = new Map<
      string,
      { created: number; updated: number; title: string | null; listed: boolean }
    >();
    for (const { docId, info } of batch) {
      const doc = docs.get(docId);
      const title = info.title ?? doc?.title ?? null;
      docs.set(docId, {
        created: doc?.created ?? info.at,
        updated: Math.max(doc?.updated ?? info.at, info.at),
        title,
        listed: (doc?.listed ?? false) || info.listed === true,
      });
    }
    // Sorted: batches from several servers lock document rows in one order,
    // so they cannot deadlock.
    const docIds = [...docs.keys()].sort();
    let refused: Set<string>;
    try {
      refused = await this.transaction(async (client) => {
        // Taken before the statement below so that its snapshot, taken after
        // the lock, sees any delete that committed first.
        await lockDocument(client, docIds, "shared");
        const { rows } = await client.query<{ id: string }>(
          // One statement: find the tombstones, create or touch the documents
          // (created_at only for new ones; updated_at never moves back; the
          // title only when one was given), insert the updates in order.
          `WITH batch_docs AS (
             SELECT * FROM unnest(
               $1::text[], $2::bigint[], $3::bigint[], $4::text[], $7::boolean[]
             ) AS d (id, created, updated, title, listed)
           ),
           refused AS (
             SELECT id FROM deleted_documents WHERE id = ANY ($1::text[])
           ),
           touched AS (
             INSERT INTO documents (id, title, created_at, updated_at, listed)
             SELECT id, coalesce(title, ''), created, updated, listed FROM batch_docs
             WHERE id NOT IN (SELECT id FROM refused)
             ON CONFLICT (id) DO UPDATE SET
               updated_at = greatest(documents.updated_at, excluded.updated_at),
               listed = documents.listed OR excluded.listed,
               title = coalesce(
                 (SELECT title FROM batch_docs WHERE batch_docs.id = excluded.id),
                 documents.title
               )
           ),
           inserted AS (
             INSERT INTO updates (doc_id, data)
             SELECT doc_id, data FROM unnest($5::text[], $6::bytea[]) WITH ORDINALITY
               AS u (doc_id, data, n)
             WHERE doc_id NOT IN (SELECT id FROM refused)
             ORDER BY n
           )
           SELECT id FROM refused`,
          [
            docIds,
            docIds.map((id) => docs.get(id)?.created),
            docIds.map((id) => docs.get(id)?.updated),
            docIds.map((id) => docs.get(id)?.title ?? null),
            batch.map((job) => job.docId),
            batch.map((job) => job.update),
            docIds.map((id) => docs.get(id)?.listed ?? false),
          ],
        );
        return new Set(rows.map((row) => row.id));
      });
    } catch (error) {
      for (const job of batch) job.reject(error as Error);
      return;
    }
    for (const job of batch) {
      if (refused.has(job.docId)) job.reject(new DocumentDeletedError(job.docId));
      else job.resolve();
    }
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    this.refuseIfClosed();
    await this.migrate();
    return this.pool.query<R>(text, values);
  }

  /**
   * Brings the schema up to date, once per store (retried after a failure,
   * such as the server being down at start): every step of
   * `schemaMigrations` above the version recorded in `schema_version` runs,
   * in order, in one transaction under an advisory lock, so servers starting
   * together (a rolling deploy) do not race, and a step either lands with
   * its number or not at all. A database written by a newer Cowrite (a
   * version above the last step known here) is refused rather than guessed at.
   */
  private migrate(): Promise<void> {
    this.migrated ??= this.createSchema().catch((error: unknown) => {
      this.migrated = null;
      throw error;
    });
    return this.migrated;
  }

  private async createSchema(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1, 0)", [lockSpace.migrate]);
      await client.query("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
      const found = await client.query<{ version: number }>(
        "SELECT max(version) AS version FROM schema_version",
      );
      const current = found.rows[0]?.version ?? 0;
      if (current > schemaMigrations.length) {
        throw new Error(
          `the database's schema is version ${current}, newer than this Cowrite knows ` +
            `(${schemaMigrations.length}): upgrade Cowrite`,
        );
      }
      for (let version = current + 1; version <= schemaMigrations.length; version++) {
        await client.query(schemaMigrations[version - 1] as string);
        await client.query("DELETE FROM schema_version");
        await client.query("INSERT INTO schema_version (version) VALUES ($1)", [version]);
      }
      await client.query("COMMIT");
      client.release();
    } catch (error) {
      await client.query("ROLLBACK").then(
        () => client.release(),
        (rollbackError: Error) => client.release(rollbackError),
      );
      throw error;
    }
  }
}

/**
 * The schema, as numbered steps: step N brings version N-1 to N. Append new
 * steps; never edit one that has shipped. Step 1 uses IF NOT EXISTS because
 * databases created before `schema_version` existed already hold its tables.
 * Times are milliseconds since the epoch, as in DocMeta.
 */
const schemaMigrations: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS documents (
    id text PRIMARY KEY,
    title text NOT NULL DEFAULT '',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS documents_updated_at ON documents (updated_at DESC);
  CREATE TABLE IF NOT EXISTS updates (
    doc_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq bigserial NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (doc_id, seq)
  );
  CREATE TABLE IF NOT EXISTS deleted_documents (
    id text PRIMARY KEY,
    deleted_at bigint NOT NULL
  );
  `,
  // Documents stored before this step were all listed; see DocMeta.listed.
  `
  ALTER TABLE documents ADD COLUMN IF NOT EXISTS listed boolean NOT NULL DEFAULT true;
  `,
  // Versions: full states beside the log (see DocStore.saveVersion).
  `
  CREATE TABLE IF NOT EXISTS versions (
    id bigserial PRIMARY KEY,
    doc_id text NOT NULL,
    created_at bigint NOT NULL,
    name text,
    authors text NOT NULL,
    state bytea NOT NULL
  );
  CREATE INDEX IF NOT EXISTS versions_doc ON versions (doc_id, id);
  `,
];

/**
 * Takes the documents' tombstone locks until the transaction ends, in a
 * fixed order (sorted by key) so two batches cannot deadlock.
 */
async function lockDocument(
  client: pg.PoolClient,
  docIds: string | string[],
  mode: "shared" | "exclusive",
): Promise<void> {
  const lock = mode === "shared" ? "pg_advisory_xact_lock_shared" : "pg_advisory_xact_lock";
  await client.query(
    `SELECT ${lock}($1, key) FROM (
       SELECT DISTINCT hashtext(id) AS key FROM unnest($2::text[]) AS id ORDER BY key
     ) AS keys`,
    [lockSpace.document, typeof docIds === "string" ? [docIds] : docIds],
  );
}

/** Rolls back a compaction whose rows changed under it. */
class CompactionRaced extends Error {}

interface VersionRow {
  id: string;
  doc_id: string;
  created_at: string;
  name: string | null;
  authors: string;
  bytes: number | string;
}

function toVersionMeta(row: VersionRow): VersionMeta {
  return {
    id: Number(row.id),
    docId: row.doc_id,
    createdAt: Number(row.created_at),
    name: row.name,
    authors: JSON.parse(row.authors) as string[],
    bytes: Number(row.bytes),
  };
}

function toMeta(row: Row): DocMeta {
  return {
    id: row.id,
    title: row.title,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    listed: row.listed,
  };
}

function closedError(): Error {
  return new Error("the document store is closed");
}
