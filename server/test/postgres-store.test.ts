import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { DocumentDeletedError } from "../src/storage/doc-store.ts";
import { PostgresDocStore } from "../src/storage/postgres.ts";
import { connectProvider, whenDoc, whenSynced } from "./helpers.ts";
import { type PostgresServer, startPostgres } from "./postgres-server.ts";
import { startServerProcess } from "./process.ts";

// What the contract suite cannot say about PostgresDocStore: several
// servers ("nodes") on one database, restarts, and how it uses PostgreSQL.
// One real server for the file, a fresh database per test.
let server: PostgresServer | undefined;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

const stores: PostgresDocStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function freshDatabase(): Promise<string> {
  if (!server) throw new Error("the test PostgreSQL server is not running");
  return server.createDatabase();
}

function open(url: string): PostgresDocStore {
  const store = new PostgresDocStore(url);
  stores.push(store);
  return store;
}

function materialize(updates: Uint8Array[]): string {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getText("t").toString();
}

/** A client typing `char` at the end of its own copy of the text, one update per keystroke. */
function typist(clientID: number, char: string) {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const updates: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => updates.push(update));
  const text = doc.getText("t");
  return {
    type(count: number): Uint8Array[] {
      for (let i = 0; i < count; i++) text.insert(text.length, char);
      return updates.splice(0);
    },
  };
}

const count = (text: string, char: string) => text.split(char).length - 1;

describe("PostgresDocStore on a real PostgreSQL server", () => {
  it("two nodes appending to one document while both compact it lose nothing", async () => {
    const url = await freshDatabase();
    const nodes = [open(url), open(url)] as const;
    const typists = [typist(1, "a"), typist(2, "b")];
    const pending: Promise<unknown>[] = [];
    let merged = 0;
    for (let round = 0; round < 30; round++) {
      nodes.forEach((node, i) => {
        for (const update of typists[i]?.type(10) ?? []) {
          pending.push(node.append("d", update, { at: round }));
        }
      });
      const compactor = round % 2 === 0 ? nodes[0] : nodes[1];
      pending.push(compactor.compact("d").then((result) => (merged += result.merged)));
      // Let some batches commit, so compactions meet appends both committed
      // and in flight.
      if (round % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    // Compaction really ran alongside the appends (otherwise this test
    // would show nothing).
    expect(merged).toBeGreaterThan(0);
    const text = materialize(await nodes[1].load("d"));
    expect([count(text, "a"), count(text, "b")]).toEqual([300, 300]);
    await nodes[0].compact("d");
    const compacted = await nodes[1].load("d");
    expect(compacted).toHaveLength(1);
    expect(materialize(compacted)).toBe(text);
  });

  it("two nodes compacting one document at once: one merges, the log stays whole", async () => {
    const url = await freshDatabase();
    const nodes = [open(url), open(url)] as const;
    await Promise.all(
      typist(1, "x")
        .type(100)
        .map((update) => nodes[0].append("d", update, { at: 1 })),
    );
    const results = await Promise.all(nodes.map((node) => node.compact("d")));
    expect(results.map((result) => result.merged).sort((a, b) => a - b)).toEqual([0, 100]);
    const stored = await nodes[1].load("d");
    expect(stored).toHaveLength(1);
    expect(materialize(stored)).toBe("x".repeat(100));
  });

  it("keeps a row that commits after a compaction with a lower sequence than the rows merged", async () => {
    // bigserial numbers rows at insert, not at commit: another node's append
    // in flight during a compaction has a lower number than rows it merges.
    const url = await freshDatabase();
    const store = open(url);
    const writer = typist(1, "x");
    await store.append("d", writer.type(1)[0] ?? new Uint8Array(), { at: 1 });
    const otherNode = new pg.Client(url);
    await otherNode.connect();
    try {
      await otherNode.query("BEGIN");
      await otherNode.query("INSERT INTO updates (doc_id, data) VALUES ('d', $1)", [
        typist(2, "y").type(1)[0],
      ]);
      await Promise.all(writer.type(3).map((update) => store.append("d", update, { at: 2 })));
      expect((await store.compact("d")).merged).toBe(4);
      await otherNode.query("COMMIT");
    } finally {
      await otherNode.end();
    }
    const text = materialize(await store.load("d"));
    expect([count(text, "x"), count(text, "y")]).toEqual([4, 1]);
  });

  it("a compaction that meets a delete from another node gives up and brings nothing back", async () => {
    const url = await freshDatabase();
    const store = open(url);
    await Promise.all(
      typist(1, "x")
        .type(5)
        .map((update) => store.append("d", update, { at: 1 })),
    );
    const otherNode = new pg.Client(url);
    await otherNode.connect();
    try {
      // Another node's delete, not yet committed: it holds the rows' locks.
      await otherNode.query("BEGIN");
      await otherNode.query("DELETE FROM updates WHERE doc_id = 'd'");
      await otherNode.query("DELETE FROM documents WHERE id = 'd'");
      await otherNode.query("INSERT INTO deleted_documents (id, deleted_at) VALUES ('d', 1)");
      const compaction = store.compact("d");
      // Commit once the compaction's DELETE waits for those locks. Asked on
      // a connection of its own: inside a transaction, pg_stat_activity
      // shows the same snapshot each time.
      const probe = new pg.Client(url);
      await probe.connect();
      const waiting = async () => {
        const { rows } = await probe.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
           AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM updates%'`,
        );
        return rows.length > 0;
      };
      try {
        while (!(await waiting())) {
          // Each probe is a round trip to the server; no timer decides anything.
        }
      } finally {
        await probe.end();
      }
      await otherNode.query("COMMIT");
      expect(await compaction).toEqual({ merged: 0, bytes: 0 });
    } finally {
      await otherNode.end();
    }
    expect(await store.load("d")).toEqual([]);
    expect(await store.get("d")).toBeNull();
  });

  it("keeps documents, titles, compacted logs and tombstones across a close and reopen", async () => {
    const url = await freshDatabase();
    const first = new PostgresDocStore(url);
    const writer = typist(1, "k");
    await Promise.all(writer.type(20).map((update) => first.append("d", update, { at: 5 })));
    await first.compact("d");
    const late = writer.type(1);
    await first.append("d", late[0] ?? new Uint8Array(), { at: 7, title: "Kept" });
    await first.append("gone", typist(2, "g").type(1)[0] ?? new Uint8Array(), { at: 8 });
    await first.delete("gone");
    await first.close();

    const second = open(url);
    const stored = await second.load("d");
    expect(stored).toHaveLength(2);
    expect(materialize(stored)).toBe("k".repeat(21));
    expect(await second.get("d")).toMatchObject({ title: "Kept", createdAt: 5, updatedAt: 7 });
    await expect(
      second.append("gone", writer.type(1)[0] ?? new Uint8Array(), { at: 9 }),
    ).rejects.toThrow(DocumentDeletedError);
  });

  it("commits the appends of one turn in one transaction", async () => {
    const url = await freshDatabase();
    const store = open(url);
    const writer = typist(1, "x");
    await Promise.all(writer.type(100).map((update) => store.append("d", update, { at: 1 })));
    await Promise.all(writer.type(1).map((update) => store.append("d", update, { at: 2 })));
    // xmin is the id of the transaction that inserted the row.
    const client = new pg.Client(url);
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(DISTINCT xmin::text)::int AS n FROM updates",
      );
      expect(rows[0]?.n).toBe(2);
    } finally {
      await client.end();
    }
  });

  it("creates the schema once when several nodes start on an empty database at once", async () => {
    const url = await freshDatabase();
    const nodes = [open(url), open(url), open(url)];
    await Promise.all(nodes.map((node) => node.ping()));
    await nodes[0]?.append("d", typist(1, "x").type(1)[0] ?? new Uint8Array(), { at: 1 });
    expect(await nodes[2]?.load("d")).toHaveLength(1);
  });

  it("upgrades a database created before schema versions and refuses one from a newer Cowrite", async () => {
    const url = await freshDatabase();
    const first = open(url);
    await first.append("kept", new Uint8Array([0, 0]), { at: 1, title: "Kept" });
    // As a server from before schema_version left it.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query("DROP TABLE schema_version");
      await admin.query("ALTER TABLE documents DROP COLUMN listed");
      const upgraded = open(url);
      // Documents stored before the list flag existed stay in the list.
      expect(await upgraded.get("kept")).toMatchObject({ title: "Kept", listed: true });
      const version = await admin.query("SELECT version FROM schema_version");
      expect(version.rows).toEqual([{ version: 3 }]);
      await admin.query("UPDATE schema_version SET version = 99");
      await expect(open(url).ping()).rejects.toThrow(/version 99, newer than this Cowrite knows/);
    } finally {
      await admin.end();
    }
  });

  it("relies on synchronous_commit=on, PostgreSQL's default, for durable appends", async () => {
    // The contract's "durable once append resolves" holds only with it: with
    // it off, COMMIT returns before the WAL is flushed.
    const pool = new pg.Pool({ connectionString: await freshDatabase() });
    try {
      const store = new PostgresDocStore(pool);
      await store.ping();
      const { rows } = await pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
      expect(rows[0]?.synchronous_commit).toBe("on");
      // A pool passed in stays the caller's: close() leaves it open.
      await store.close();
      await expect(pool.query("SELECT 1")).resolves.toBeDefined();
    } finally {
      await pool.end();
    }
  });

  it("ping rejects when the server cannot be reached", async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const store = open("postgresql://postgres@127.0.0.1:1/none");
    await expect(store.ping()).rejects.toThrow(/ECONNREFUSED/);
  });

  it("refuses requests once closed, after committing the appends requested before", async () => {
    const url = await freshDatabase();
    const store = new PostgresDocStore(url);
    const appended = store.append("d", typist(1, "x").type(1)[0] ?? new Uint8Array(), { at: 1 });
    await store.close();
    await expect(appended).resolves.toBeUndefined();
    await expect(store.load("d")).rejects.toThrow(/closed/);
    await expect(store.append("d", new Uint8Array(), { at: 2 })).rejects.toThrow(/closed/);
    expect(await open(url).load("d")).toHaveLength(1);
  });
});

describe("the server process with DATABASE_URL", () => {
  it("keeps documents in that PostgreSQL database", async () => {
    const url = await freshDatabase();
    const server = await startServerProcess({ DATABASE_URL: url });
    const clients = [
      connectProvider(server.wsUrl, "pg-doc"),
      connectProvider(server.wsUrl, "pg-doc"),
    ];
    try {
      await Promise.all(clients.map((client) => whenSynced(client.provider)));
      clients[0]?.doc.getText("t").insert(0, "stored in postgres");
      // The server broadcasts an update only once it is stored.
      await whenDoc(clients[1]?.doc ?? new Y.Doc(), (doc) => doc.getText("t").length > 0);
      expect(materialize(await open(url).load("pg-doc"))).toBe("stored in postgres");
    } finally {
      for (const client of clients) client.provider.destroy();
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("refuses to start when the database cannot be reached", async () => {
    await expect(
      startServerProcess({ DATABASE_URL: "postgresql://postgres:secret@127.0.0.1:1/none" }),
    ).rejects.toThrow(
      /exited \(2\)[\s\S]*cannot open postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/none/,
    );
  });
});
