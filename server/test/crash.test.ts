import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { databaseFile, readConfig } from "../src/config.ts";
import { SqliteDocStore } from "../src/storage/sqlite.ts";
import { connectProvider, tempDir, whenDoc, whenSynced } from "./helpers.ts";
import { type ServerProcess, startServerProcess } from "./process.ts";

// Issue 3, "Crashes and restarts": kill -9 the server in the middle of many
// concurrent edits, restart it, and check that every update any client saw
// the server broadcast is in the document.
//
// kill -9 ends the process, not the machine: the operating system still
// writes out what SQLite handed it, so those tests pass whatever the
// `synchronous` setting. Surviving a power cut rests on `synchronous=FULL`
// (each commit fsynced before it resolves), which the first test checks on
// the store main.ts builds; no test cuts the power.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(dataDir: string): Promise<ServerProcess> {
  const server = await startServerProcess({ DATA_DIR: dataDir });
  cleanups.push(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
  });
  return server;
}

describe("crash safety", () => {
  it("the server's store commits with synchronous=FULL in WAL mode on both of its connections", async () => {
    // Built as main.ts builds it: a SqliteDocStore on DATA_DIR/cowrite.db.
    const store = new SqliteDocStore(databaseFile(readConfig({ DATA_DIR: tempDir() })));
    cleanups.push(() => store.close());
    const FULL = 2;
    expect(await store.durability()).toEqual({
      writer: { journalMode: "wal", synchronous: FULL },
      maintenance: { journalMode: "wal", synchronous: FULL },
    });
  });

  // Different kill points: after this many broadcast edits have been seen.
  it.each([40, 150, 400])(
    "every edit a client saw broadcast survives kill -9 after %i broadcasts",
    async (killAfter) => {
      const dataDir = tempDir();
      const first = await start(dataDir);
      const clients = Array.from({ length: 4 }, () => connectProvider(first.wsUrl, "crash"));
      for (const c of clients) cleanups.push(() => c.provider.destroy());
      await Promise.all(clients.map((c) => whenSynced(c.provider)));

      // Each edit adds a unique key. A key that reaches a client through the
      // server (origin: the provider) was broadcast, hence on disk.
      const seen = new Set<string>();
      let killed = false;
      const reachedKillPoint = new Promise<void>((resolve) => {
        for (const c of clients) {
          c.doc.getMap("log").observe((event, transaction) => {
            if (killed || transaction.origin !== c.provider) return;
            for (const key of event.keysChanged) seen.add(key);
            if (seen.size >= killAfter) resolve();
          });
        }
      });
      // Load: every client writes five keys per message, 125 messages a
      // second, just under the server's default rate limit (200/s). Faster
      // clients only get cut off with 4429 and spend the test reconnecting,
      // which under a loaded CI machine could take longer than the timeout.
      const writers = clients.map((c, i) => {
        let n = 0;
        return setInterval(() => {
          c.doc.transact(() => {
            for (let k = 0; k < 5; k++) c.doc.getMap("log").set(`c${i}-${n++}`, Date.now());
          });
        }, 8);
      });
      await reachedKillPoint;
      first.child.kill("SIGKILL");
      killed = true;
      for (const writer of writers) clearInterval(writer);
      // Drop the clients at once, so that none can hand its edits back on reconnect.
      for (const c of clients) c.provider.destroy();
      expect(await first.exited).toBe("SIGKILL");
      expect(seen.size).toBeGreaterThanOrEqual(killAfter);

      const second = await start(dataDir);
      const fresh = connectProvider(second.wsUrl, "crash", new Y.Doc());
      cleanups.push(() => fresh.provider.destroy());
      await whenSynced(fresh.provider);
      const stored = fresh.doc.getMap("log");
      const missing = [...seen].filter((key) => !stored.has(key));
      expect(missing).toEqual([]);
      // The restarted server serves the document normally.
      const other = connectProvider(second.wsUrl, "crash");
      cleanups.push(() => other.provider.destroy());
      fresh.doc.getMap("log").set("after-restart", 1);
      await whenDoc(other.doc, (d) => d.getMap("log").has("after-restart"));
    },
    60_000,
  );
});
