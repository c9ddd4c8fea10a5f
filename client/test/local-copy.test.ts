import { IDBFactory } from "fake-indexeddb";
import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { deleteLocalCopy, type LocalCopy, openLocalCopy } from "../src/local-copy.ts";

/** Resolves once `copy.kept` is true (every update seen is committed). */
function keptEvent(copy: LocalCopy): Promise<void> {
  if (copy.kept) return Promise.resolve();
  return new Promise((resolve) => {
    const off = copy.on("kept", (kept) => {
      if (!kept) return;
      off();
      resolve();
    });
  });
}

function typeInto(doc: Y.Doc, text: string): void {
  const field = doc.getText("body");
  field.insert(field.length, text);
}

describe("local copy", () => {
  it("keeps every update across a reopen, and says when they are on disk", async () => {
    const indexedDB = new IDBFactory();
    const first = new Y.Doc();
    const copy = openLocalCopy({ doc: first, name: "doc-a", indexedDB });
    expect(await copy.loaded).toBe(false);
    typeInto(first, "hello");
    expect(copy.kept).toBe(false);
    await keptEvent(copy);
    typeInto(first, " world");
    await keptEvent(copy);
    copy.destroy();

    const second = new Y.Doc();
    const reopened = openLocalCopy({ doc: second, name: "doc-a", indexedDB });
    expect(await reopened.loaded).toBe(false);
    expect(second.getText("body").toString()).toBe("hello world");
    reopened.destroy();
  });

  it("remembers a sync with the server, and another name sees nothing", async () => {
    const indexedDB = new IDBFactory();
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "server:alice:doc", indexedDB });
    await copy.loaded;
    typeInto(doc, "alice's");
    copy.markSynced();
    await keptEvent(copy);
    copy.destroy();

    const again = openLocalCopy({ doc: new Y.Doc(), name: "server:alice:doc", indexedDB });
    expect(await again.loaded).toBe(true);
    again.destroy();
    const bobDoc = new Y.Doc();
    const bob = openLocalCopy({ doc: bobDoc, name: "server:bob:doc", indexedDB });
    expect(await bob.loaded).toBe(false);
    expect(bobDoc.getText("body").toString()).toBe("");
    bob.destroy();
  });

  it("records updates made before the database opened", async () => {
    const indexedDB = new IDBFactory();
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "early", indexedDB });
    typeInto(doc, "before open");
    await copy.loaded;
    await keptEvent(copy);
    copy.destroy();
    const reopenedDoc = new Y.Doc();
    const reopened = openLocalCopy({ doc: reopenedDoc, name: "early", indexedDB });
    await reopened.loaded;
    expect(reopenedDoc.getText("body").toString()).toBe("before open");
    reopened.destroy();
  });

  it("merges many stored updates into one when opened, losing nothing", async () => {
    const indexedDB = new IDBFactory();
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "busy", indexedDB });
    await copy.loaded;
    for (let i = 0; i < 250; i += 1) typeInto(doc, "x");
    await keptEvent(copy);
    copy.destroy();

    const compacting = openLocalCopy({ doc: new Y.Doc(), name: "busy", indexedDB });
    await compacting.loaded;
    compacting.destroy();
    const count = await new Promise<number>((resolve) => {
      const request = indexedDB.open("busy");
      request.onsuccess = () => {
        const db = request.result;
        const counted = db.transaction("updates").objectStore("updates").count();
        counted.onsuccess = () => {
          db.close();
          resolve(counted.result);
        };
      };
    });
    expect(count).toBe(1);
    const finalDoc = new Y.Doc();
    const final = openLocalCopy({ doc: finalDoc, name: "busy", indexedDB });
    await final.loaded;
    expect(finalDoc.getText("body").toString()).toBe("x".repeat(250));
    final.destroy();
  });

  it("clear() deletes the copy", async () => {
    const indexedDB = new IDBFactory();
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "gone", indexedDB });
    await copy.loaded;
    typeInto(doc, "secret");
    copy.markSynced();
    await keptEvent(copy);
    await copy.clear();
    const afterDoc = new Y.Doc();
    const after = openLocalCopy({ doc: afterDoc, name: "gone", indexedDB });
    expect(await after.loaded).toBe(false);
    expect(afterDoc.getText("body").toString()).toBe("");
    after.destroy();
  });

  it("deleteLocalCopy removes a copy by name", async () => {
    const indexedDB = new IDBFactory();
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "listed", indexedDB });
    await copy.loaded;
    typeInto(doc, "text");
    await keptEvent(copy);
    copy.destroy();
    await deleteLocalCopy("listed", indexedDB);
    const afterDoc = new Y.Doc();
    const after = openLocalCopy({ doc: afterDoc, name: "listed", indexedDB });
    await after.loaded;
    expect(afterDoc.getText("body").toString()).toBe("");
    after.destroy();
  });

  it("without IndexedDB there is no copy, and nothing claims to be kept", async () => {
    const doc = new Y.Doc();
    const copy = openLocalCopy({ doc, name: "none", indexedDB: undefined });
    expect(await copy.loaded).toBe(false);
    typeInto(doc, "text");
    expect(copy.kept).toBe(false);
    copy.destroy();
  });
});
