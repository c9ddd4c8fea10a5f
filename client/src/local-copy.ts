/**
 * A document's copy on this device, in IndexedDB: every Yjs update the doc
 * sees (typed here or received from the server) is appended, so edits made
 * offline survive a reload or a closed tab and reach the server on the next
 * sync, and a document opens from the copy while the server sync runs.
 *
 * Contract:
 * - One database per server, user and document (`localCopyName`); nothing
 *   of one user's copy is visible under another user's name.
 * - `loaded` resolves once the stored updates are applied to the doc (with
 *   an origin of the copy's own) and says whether the copy had ever synced with the
 *   server: only such a copy is a base to edit on before the server answers.
 * - `kept` is true while every update the doc has seen is committed to disk;
 *   the `kept` event fires whenever that changes.
 * - `markSynced()` records that the doc has synced with the server.
 * - A failing database (quota, private mode, no IndexedDB) disables the copy:
 *   `kept` stays false and the page behaves as it would without one.
 * - `clear()` forgets the copy (deleted document, access revoked) and stops
 *   recording; `destroy()` only stops recording.
 */
import * as Y from "yjs";
import { Emitter } from "./emitter.ts";

const updatesStore = "updates";
const metaStore = "meta";
const syncedKey = "synced";
/** Stored updates beyond this are merged into one when the copy is opened. */
const compactAfter = 200;

export type LocalCopyEvents = {
  kept: (kept: boolean) => void;
};

export interface LocalCopy {
  readonly name: string;
  /** Whether the copy had synced with the server before (false when there was none, or it failed). */
  readonly loaded: Promise<boolean>;
  /** Every update the doc has seen is on disk. */
  readonly kept: boolean;
  on<K extends keyof LocalCopyEvents>(event: K, listener: LocalCopyEvents[K]): () => void;
  markSynced(): void;
  clear(): Promise<void>;
  destroy(): void;
}

export interface LocalCopyOptions {
  doc: Y.Doc;
  name: string;
  /** Defaults to the browser's `indexedDB`; absent means no copy. */
  indexedDB?: IDBFactory | undefined;
}

/** The database name for one document of one user on one server. */
export function localCopyName(server: string, user: string, docId: string): string {
  return `cowrite:${server}:${user}:${docId}`;
}

/** Deletes a copy by name (e.g. after deleting its document from the list); never throws. */
export function deleteLocalCopy(name: string, factory = browserIndexedDB()): Promise<void> {
  return new Promise((resolve) => {
    if (factory === undefined) return resolve();
    try {
      const request = factory.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => resolve();
      // Another tab holds it open: it is deleted once that tab closes it.
      request.onblocked = () => resolve();
    } catch {
      resolve();
    }
  });
}

export function openLocalCopy(options: LocalCopyOptions): LocalCopy {
  const { doc, name } = options;
  const factory = "indexedDB" in options ? options.indexedDB : browserIndexedDB();
  const events = new Emitter<LocalCopyEvents>();
  /** The origin stored updates are applied with, so they are not stored again. */
  const ownOrigin = { localCopy: name };
  let db: IDBDatabase | null = null;
  let failed = factory === undefined;
  let stopped = false;
  /** Updates handed to IndexedDB whose transaction has not completed. */
  let pending = 0;
  /** Updates seen before the database was open. */
  const queued: Uint8Array[] = [];
  let kept = !failed;

  const setKept = (next: boolean): void => {
    if (next === kept) return;
    kept = next;
    events.emit("kept", next);
  };
  const refreshKept = (): void =>
    setKept(!failed && !stopped && pending === 0 && queued.length === 0);

  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    console.warn(`[cowrite] the copy on this device is off: ${describe(error)}`);
    db?.close();
    db = null;
    queued.length = 0;
    refreshKept();
  };

  /** Runs `write` in a transaction on `storeName`; `kept` waits for it to commit. */
  const write = (storeName: string, writeTo: (objects: IDBObjectStore) => void): void => {
    if (db === null) return;
    pending += 1;
    try {
      const tx = db.transaction(storeName, "readwrite");
      writeTo(tx.objectStore(storeName));
      tx.oncomplete = () => {
        pending -= 1;
        refreshKept();
      };
      tx.onerror = () => fail(tx.error);
      tx.onabort = () => fail(tx.error ?? new Error("transaction aborted"));
    } catch (error) {
      fail(error);
    }
  };
  const store = (updates: Uint8Array[]): void => {
    if (updates.length === 0) return;
    write(updatesStore, (objects) => {
      for (const update of updates) objects.add(update);
    });
  };

  const onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === ownOrigin || failed || stopped) return;
    if (db === null) queued.push(update);
    else store([update]);
    refreshKept();
  };
  doc.on("update", onUpdate);

  const loaded = (async (): Promise<boolean> => {
    if (factory === undefined) return false;
    try {
      const opened = await openDatabase(factory, name);
      if (stopped) {
        opened.close();
        return false;
      }
      db = opened;
      db.onversionchange = () => {
        // clear() in another tab (or ours) deletes the database: let it.
        db?.close();
        db = null;
        failed = true;
        refreshKept();
      };
      const { updates, keys, synced } = await readAll(db);
      if (stopped) return false;
      if (updates.length > 0) {
        Y.transact(
          doc,
          () => {
            for (const update of updates) Y.applyUpdate(doc, update);
          },
          ownOrigin,
        );
      }
      if (updates.length > compactAfter) await compact(db, doc, keys);
      store(queued.splice(0));
      refreshKept();
      return synced;
    } catch (error) {
      fail(error);
      return false;
    }
  })();

  const copy: LocalCopy = {
    name,
    loaded,
    get kept() {
      return kept;
    },
    on(event, listener) {
      events.on(event, listener);
      return () => events.off(event, listener);
    },
    markSynced() {
      void loaded.then(() => {
        if (stopped) return;
        // Counted like an update: a copy "kept" on disk knows it may be edited offline.
        write(metaStore, (objects) => objects.put(true, syncedKey));
        refreshKept();
      });
    },
    async clear() {
      copy.destroy();
      await loaded;
      db?.close();
      db = null;
      if (factory !== undefined) await deleteLocalCopy(name, factory);
    },
    destroy() {
      if (stopped) return;
      stopped = true;
      doc.off("update", onUpdate);
      // Transactions already handed over still complete after close().
      void loaded.then(() => {
        db?.close();
        db = null;
      });
      refreshKept();
      events.clear();
    },
  };
  return copy;
}

function browserIndexedDB(): IDBFactory | undefined {
  try {
    return globalThis.indexedDB ?? undefined;
  } catch {
    // Some browsers throw on access when storage is disabled.
    return undefined;
  }
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(updatesStore)) {
        db.createObjectStore(updatesStore, { autoIncrement: true });
      }
      if (!db.objectStoreNames.contains(metaStore)) db.createObjectStore(metaStore);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("the database is blocked by another tab"));
  });
}

function readAll(
  db: IDBDatabase,
): Promise<{ updates: Uint8Array[]; keys: IDBValidKey[]; synced: boolean }> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction([updatesStore, metaStore], "readonly");
    const updates = tx.objectStore(updatesStore).getAll();
    const keys = tx.objectStore(updatesStore).getAllKeys();
    const synced = tx.objectStore(metaStore).get(syncedKey);
    tx.oncomplete = () =>
      resolve({
        updates: (updates.result as unknown[]).filter(
          (value): value is Uint8Array => value instanceof Uint8Array,
        ),
        keys: keys.result,
        synced: synced.result === true,
      });
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

/** Replaces the stored updates `keys` by the doc's whole state, in one transaction. */
function compact(db: IDBDatabase, doc: Y.Doc, keys: IDBValidKey[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(updatesStore, "readwrite");
    const objects = tx.objectStore(updatesStore);
    const last = keys[keys.length - 1];
    if (last !== undefined) objects.delete(IDBKeyRange.upperBound(last));
    objects.add(Y.encodeStateAsUpdate(doc));
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
