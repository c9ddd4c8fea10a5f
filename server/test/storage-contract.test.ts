import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import * as Y from "yjs";
import {
  type DocStore,
  DocumentDeletedError,
  DocumentExistsError,
} from "../src/storage/doc-store.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import { PostgresDocStore } from "../src/storage/postgres.ts";
import { SqliteDocStore } from "../src/storage/sqlite.ts";
import { tempDir } from "./helpers.ts";
import { type PostgresServer, startPostgres } from "./postgres-server.ts";

// The one definition of the DocStore seam: every promise of the contract in
// storage/doc-store.ts has a test here, run on every implementation.
// `place()` makes an empty place to keep documents and returns how to open a
// store on it; every store opened there sees what the others stored (for the
// in-memory store, the place is the store itself; for PostgreSQL, a fresh
// database on the file's own server).
const implementations: [string, () => Promise<() => DocStore>][] = [
  [
    "MemoryDocStore",
    async () => {
      const store = new MemoryDocStore();
      return () => store;
    },
  ],
  [
    "SqliteDocStore",
    async () => {
      const file = path.join(tempDir(), "contract.db");
      return () => new SqliteDocStore(file);
    },
  ],
  [
    "PostgresDocStore",
    async () => {
      const url = await postgres().createDatabase();
      return () => new PostgresDocStore(url);
    },
  ],
];

// One real PostgreSQL server for this file, started by the test itself.
// Starting it throws if PostgreSQL is missing: these tests never skip.
let postgresServer: PostgresServer | undefined;
beforeAll(async () => {
  postgresServer = await startPostgres();
});
afterAll(async () => {
  await postgresServer?.stop();
});
function postgres(): PostgresServer {
  if (!postgresServer) throw new Error("the test PostgreSQL server is not running");
  return postgresServer;
}

function edit(text: string, clientID: number): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  doc.getText("t").insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

function materialize(updates: Uint8Array[]): string {
  const doc = new Y.Doc();
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc.getText("t").toString();
}

describe.each(implementations)("%s fulfils the DocStore contract", (_name, place) => {
  const stores: DocStore[] = [];
  /** Opens a store on `on` (a fresh place by default). */
  const open = async (on?: () => DocStore) => {
    const store = (on ?? (await place()))();
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it("loads nothing for an unknown document", async () => {
    const store = await open();
    expect(await store.load("nope")).toEqual([]);
    expect(await store.get("nope")).toBeNull();
  });

  it("returns appended updates in order, and creates the document on first append", async () => {
    const store = await open();
    const a = edit("a", 1);
    const b = edit("b", 2);
    await store.append("d", a, { at: 10 });
    await store.append("d", b, { at: 20, title: "Hello" });
    expect(await store.load("d")).toEqual([a, b]);
    expect(await store.get("d")).toEqual({
      id: "d",
      title: "Hello",
      createdAt: 10,
      updatedAt: 20,
      listed: false,
    });
    // Without a title, an append moves only the time of the last change.
    await store.append("d", edit("c", 3), { at: 30 });
    expect(await store.get("d")).toMatchObject({ title: "Hello", createdAt: 10, updatedAt: 30 });
  });

  it("an update is durable once its append resolves: a store reopened on the same data has it", async () => {
    const at = await place();
    const first = await open(at);
    const update = edit("durable", 1);
    await first.append("d", update, { at: 1, title: "Kept" });
    await first.close();
    const second = await open(at);
    expect(await second.load("d")).toEqual([update]);
    expect((await second.get("d"))?.title).toBe("Kept");
  });

  it("concurrent appends from several writers to one document all land, in any order", async () => {
    const at = await place();
    const writers = [await open(at), await open(at)];
    const updates = [1, 2, 3, 4].map((n) => edit(`w${n}`, n));
    await Promise.all(
      updates.map((update, i) => writers[i % 2]?.append("d", update, { at: i + 1 })),
    );
    const stored = await (writers[0] as DocStore).load("d");
    expect(stored).toHaveLength(4);
    expect(new Set(stored.map((u) => u.toString()))).toEqual(
      new Set(updates.map((u) => u.toString())),
    );
    // Any order of the same updates gives the same document.
    expect(materialize(stored)).toBe(materialize([...updates].reverse()));
  });

  it("compaction merges the log into one update with the same content", async () => {
    const store = await open();
    for (let i = 0; i < 50; i++) await store.append("d", edit(String(i % 10), i + 1), { at: i });
    const before = materialize(await store.load("d"));
    const result = await store.compact("d");
    const compacted = await store.load("d");
    expect(compacted).toHaveLength(1);
    expect(result).toEqual({ merged: 50, bytes: compacted[0]?.length });
    expect(materialize(compacted)).toBe(before);
    await store.append("d", edit("z", 999), { at: 99 });
    expect(await store.load("d")).toHaveLength(2);
    expect(materialize(await store.load("d"))).toHaveLength(51);
  });

  it("loses no append made while a compaction of the same document runs", async () => {
    const store = await open();
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    const text = doc.getText("t");
    const written: Promise<unknown>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) text.insert(text.length, "x");
      written.push(...updates.splice(0).map((u) => store.append("d", u, { at: round })));
      written.push(store.compact("d"));
    }
    await Promise.all(written);
    expect(materialize(await store.load("d"))).toBe("x".repeat(1000));
    await store.compact("d");
    const stored = await store.load("d");
    expect(stored).toHaveLength(1);
    expect(materialize(stored)).toBe("x".repeat(1000));
  });

  it("compaction of a short log is a no-op", async () => {
    const store = await open();
    await store.append("d", edit("x", 1), { at: 1 });
    expect((await store.compact("d")).merged).toBe(0);
    expect(await store.compact("missing")).toEqual({ merged: 0, bytes: 0 });
  });

  it("ensure creates once and keeps existing metadata", async () => {
    const store = await open();
    const first = await store.ensure("d", 5);
    expect(first).toEqual({ id: "d", title: "", createdAt: 5, updatedAt: 5, listed: false });
    await store.append("d", edit("x", 1), { at: 7, title: "T", listed: true });
    expect(await store.ensure("d", 9)).toEqual({
      id: "d",
      title: "T",
      createdAt: 5,
      updatedAt: 7,
      listed: true,
    });
  });

  it("create refuses an existing id with DocumentExistsError", async () => {
    const store = await open();
    await store.create({ id: "d", title: "One", at: 1 });
    await expect(store.create({ id: "d", title: "Two", at: 2 })).rejects.toBeInstanceOf(
      DocumentExistsError,
    );
    expect((await store.get("d"))?.title).toBe("One");
  });

  it("lists newest change first, up to the limit", async () => {
    const store = await open();
    await store.create({ id: "old", title: "", at: 1 });
    await store.create({ id: "new", title: "", at: 3 });
    await store.create({ id: "mid", title: "", at: 2 });
    await store.append("old", edit("x", 1), { at: 4 });
    expect((await store.list({ limit: 10 })).map((d) => d.id)).toEqual(["old", "new", "mid"]);
    expect((await store.list({ limit: 2 })).map((d) => d.id)).toEqual(["old", "new"]);
  });

  it("lists only ids starting with the prefix when given", async () => {
    const store = await open();
    await store.create({ id: "team/a", title: "", at: 1 });
    await store.create({ id: "team/b", title: "", at: 2 });
    await store.create({ id: "teams", title: "", at: 3 });
    await store.create({ id: "other/team/c", title: "", at: 4 });
    expect((await store.list({ limit: 10, prefix: "team/" })).map((d) => d.id)).toEqual([
      "team/b",
      "team/a",
    ]);
    expect(await store.list({ limit: 10, prefix: "none/" })).toEqual([]);
  });

  it("lists a document opened or appended to only once an append says it has writing", async () => {
    const store = await open();
    await store.ensure("opened", 1);
    await store.append("appended", edit("x", 1), { at: 2 });
    await store.create({ id: "created", title: "", at: 3 });
    expect((await store.list({ limit: 10 })).map((d) => d.id)).toEqual(["created"]);
    await store.append("opened", edit("y", 2), { at: 4, listed: true });
    // Listed for good: later appends without the flag keep it listed.
    await store.append("opened", edit("z", 3), { at: 5 });
    expect((await store.list({ limit: 10 })).map((d) => d.id)).toEqual(["opened", "created"]);
    expect((await store.get("appended"))?.listed).toBe(false);
  });

  it("lists only titles containing the query, ignoring case", async () => {
    const store = await open();
    await store.create({ id: "a", title: "Quarterly Plans", at: 1 });
    await store.create({ id: "b", title: "Holiday plan", at: 2 });
    await store.create({ id: "c", title: "Notes", at: 3 });
    await store.create({ id: "d", title: "", at: 4 });
    expect((await store.list({ limit: 10, query: "PLAN" })).map((d) => d.id)).toEqual(["b", "a"]);
    expect((await store.list({ limit: 10, query: "nothing" })).map((d) => d.id)).toEqual([]);
    // Characters that are wildcards in SQL patterns match only themselves.
    await store.create({ id: "e", title: "100% done_now", at: 5 });
    expect((await store.list({ limit: 10, query: "%" })).map((d) => d.id)).toEqual(["e"]);
    expect((await store.list({ limit: 10, query: "_" })).map((d) => d.id)).toEqual(["e"]);
  });

  it("pages through the list after a given entry, ties ordered by id", async () => {
    const store = await open();
    for (const [id, at] of [
      ["b", 5],
      ["a", 5],
      ["c", 5],
      ["old", 1],
      ["new", 9],
    ] as const) {
      await store.create({ id, title: "", at });
    }
    const all = (await store.list({ limit: 10 })).map((d) => d.id);
    expect(all).toEqual(["new", "a", "b", "c", "old"]);
    const seen: string[] = [];
    let after: { updatedAt: number; id: string } | undefined;
    for (;;) {
      const page = await store.list({ limit: 2, after });
      if (page.length === 0) break;
      seen.push(...page.map((d) => d.id));
      const last = page.at(-1);
      after = last && { updatedAt: last.updatedAt, id: last.id };
    }
    expect(seen).toEqual(all);
  });

  it("keeps versions beside the log: saved, listed newest first, loaded, untouched by compaction", async () => {
    const store = await open();
    await store.append("d", edit("a", 1), { at: 1 });
    await store.append("d", edit("b", 2), { at: 2 });
    const state = Y.mergeUpdates(await store.load("d"));
    const first = await store.saveVersion("d", {
      at: 10,
      name: "Draft",
      authors: ["Ada"],
      state,
      keepAutomatic: 5,
    });
    const second = await store.saveVersion("d", {
      at: 20,
      name: null,
      authors: ["Ada", "Grace"],
      state: edit("c", 3),
      keepAutomatic: 5,
    });
    expect(first).toMatchObject({ docId: "d", createdAt: 10, name: "Draft", bytes: state.length });
    await store.compact("d");
    const listed = await store.listVersions("d", 10);
    expect(listed.map((v) => [v.id, v.name, v.authors])).toEqual([
      [second.id, null, ["Ada", "Grace"]],
      [first.id, "Draft", ["Ada"]],
    ]);
    const loaded = await store.loadVersion("d", first.id);
    expect(loaded?.meta).toEqual(first);
    expect(materialize([loaded?.state ?? new Uint8Array()])).toBe(materialize([state]));
    expect(await store.loadVersion("other", first.id)).toBeNull();
    expect(await store.loadVersion("d", 999_999)).toBeNull();
    expect(await store.listVersions("d", 1)).toHaveLength(1);
  });

  it("keeps only the newest automatic versions, and every named one", async () => {
    const store = await open();
    await store.append("d", edit("a", 1), { at: 1 });
    const save = (at: number, name: string | null) =>
      store.saveVersion("d", { at, name, authors: [], state: edit(`${at}`, at), keepAutomatic: 2 });
    await save(1, "Kept");
    for (const at of [2, 3, 4, 5]) await save(at, null);
    const left = await store.listVersions("d", 10);
    expect(left.map((v) => [v.createdAt, v.name])).toEqual([
      [5, null],
      [4, null],
      [1, "Kept"],
    ]);
  });

  it("deleting a document deletes its versions, and refuses new ones", async () => {
    const store = await open();
    await store.append("d", edit("a", 1), { at: 1 });
    const version = await store.saveVersion("d", {
      at: 2,
      name: "v",
      authors: [],
      state: edit("a", 1),
      keepAutomatic: 5,
    });
    await store.delete("d");
    expect(await store.listVersions("d", 10)).toEqual([]);
    expect(await store.loadVersion("d", version.id)).toBeNull();
    await expect(
      store.saveVersion("d", {
        at: 3,
        name: "w",
        authors: [],
        state: edit("b", 2),
        keepAutomatic: 5,
      }),
    ).rejects.toThrow(DocumentDeletedError);
  });

  it("delete removes metadata and updates", async () => {
    const store = await open();
    await store.append("d", edit("x", 1), { at: 1 });
    expect(await store.delete("d")).toBe(true);
    expect(await store.delete("d")).toBe(false);
    expect(await store.get("d")).toBeNull();
    expect(await store.load("d")).toEqual([]);
  });

  it("a deleted document stays deleted: no append or ensure brings it back, until create", async () => {
    const store = await open();
    await store.append("d", edit("x", 1), { at: 1 });
    await store.delete("d");
    await expect(store.append("d", edit("y", 2), { at: 2 })).rejects.toThrow(DocumentDeletedError);
    await expect(store.ensure("d", 3)).rejects.toThrow(DocumentDeletedError);
    expect(await store.get("d")).toBeNull();
    expect(await store.load("d")).toEqual([]);
    await store.create({ id: "d", title: "Again", at: 4 });
    expect(await store.load("d")).toEqual([]);
    await store.append("d", edit("z", 3), { at: 5 });
    expect(materialize(await store.load("d"))).toBe("z");
  });

  it("an append refused for a deleted document fails alone, not the appends made with it", async () => {
    const store = await open();
    await store.append("gone", edit("x", 1), { at: 1 });
    await store.delete("gone");
    // Requested in one turn: the SQLite writer commits them together.
    const results = await Promise.allSettled([
      store.append("kept", edit("a", 2), { at: 2 }),
      store.append("gone", edit("b", 3), { at: 2 }),
      store.append("kept", edit("c", 4), { at: 2 }),
    ]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await store.load("kept")).toHaveLength(2);
    expect(await store.load("gone")).toEqual([]);
  });

  it("deleting a document that does not exist leaves nothing behind", async () => {
    const store = await open();
    expect(await store.delete("never")).toBe(false);
    expect((await store.ensure("never", 1)).id).toBe("never");
  });

  it("ping succeeds on a working store", async () => {
    await expect((await open()).ping()).resolves.toBeUndefined();
  });
});

describe("SqliteDocStore on disk", () => {
  it("keeps documents stored before the list flag existed in the list", async () => {
    const file = path.join(tempDir(), "old.db");
    const old = new Database(file);
    old.exec(`
      CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
      INSERT INTO documents VALUES ('kept', 'Kept', 1, 2);
    `);
    old.close();
    const store = new SqliteDocStore(file);
    try {
      expect((await store.list({ limit: 10 })).map((d) => d.id)).toEqual(["kept"]);
      await store.ensure("opened", 3);
      expect((await store.get("opened"))?.listed).toBe(false);
    } finally {
      await store.close();
    }
  });

  it("answers a read after the writes requested before it, without awaiting them", async () => {
    const store = new SqliteDocStore(path.join(tempDir(), "order.db"));
    const appends = [1, 2, 3].map((n) => store.append("d", edit(`w${n}`, n), { at: n }));
    const loaded = await store.load("d");
    expect(loaded).toHaveLength(3);
    await Promise.all(appends);
    await store.close();
  });

  it("checkpoints the write-ahead log into the database file in the background", async () => {
    const file = path.join(tempDir(), "checkpoint.db");
    const store = new SqliteDocStore(file);
    await store.ping();
    const before = fs.statSync(file).size;
    const big = edit("y".repeat(200_000), 1);
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.append(`doc${n}`, big, { at: n })));
    // Appends only write the WAL; the database file grows once maintenance
    // has copied the frames over: wait for the file's change events.
    // Without a checkpoint no event ever satisfies this, and the test's own
    // timeout fails it.
    const grown = () => fs.statSync(file).size > before + 500_000;
    await new Promise<void>((resolve) => {
      const watcher = fs.watch(file, () => {
        if (grown()) resolve();
      });
      onTestFinished(() => watcher.close());
      if (grown()) resolve();
    });
    expect(grown()).toBe(true);
    await store.close();
  }, 10_000);

  it("rejects requests with the open error when the file cannot be opened", async () => {
    const notADir = path.join(tempDir(), "plain-file");
    fs.writeFileSync(notADir, "");
    const store = new SqliteDocStore(path.join(notADir, "cowrite.db"));
    await expect(store.ping()).rejects.toThrow(/EEXIST|ENOTDIR|not a directory/i);
    // A later request tries to open the file again and fails the same way.
    await expect(store.load("d")).rejects.toThrow(/EEXIST|ENOTDIR|not a directory/i);
    await store.close();
  });

  it("refuses an in-memory database, which its two connections could not share", () => {
    expect(() => new SqliteDocStore(":memory:")).toThrow(/needs a database file/);
  });

  it("refuses requests once closed", async () => {
    const store = new SqliteDocStore(path.join(tempDir(), "closed.db"));
    await store.append("d", edit("x", 1), { at: 1 });
    await store.close();
    await expect(store.load("d")).rejects.toThrow(/closed/);
  });

  it("loads a document of many small updates quickly once compacted", async () => {
    const store = new SqliteDocStore(path.join(tempDir(), "many.db"));
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    for (let i = 0; i < 20_000; i++) doc.getText("t").insert(i, "x");
    // Not awaited one by one: they queue up and commit in a few group commits.
    await Promise.all(updates.map((update) => store.append("d", update, { at: 1 })));
    const { merged, bytes } = await store.compact("d");
    expect(merged).toBe(20_000);
    expect(bytes).toBeLessThan(40_000);
    const stored = await store.load("d");
    expect(stored).toHaveLength(1);
    expect(materialize(stored)).toHaveLength(20_000);
    await store.close();
  });
});
