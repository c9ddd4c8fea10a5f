import { CLOSE_NO_DOCUMENT, decodeFrame } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { MemoryDocStore } from "../src/storage/memory.ts";
import {
  connectProvider,
  deferred,
  rawClient,
  startServer,
  tempDir,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const del = (url: string, id: string) => fetch(`${url}/api/documents/${id}`, { method: "DELETE" });

describe("deleting a document is final", () => {
  it("a delete while the room is loading: the room never serves the text, and nothing recreates the row", async () => {
    const store = new MemoryDocStore();
    const seed = new Y.Doc();
    seed.getText("t").insert(0, "secret plans");
    await store.append("loading", Y.encodeStateAsUpdate(seed), { at: 1 });
    // Hold the room's load until the delete has been asked for.
    const load = store.load.bind(store);
    const loadStarted = deferred();
    const gate = deferred();
    store.load = async (docId) => {
      loadStarted.resolve();
      await gate.promise;
      return load(docId);
    };
    const running = await startServer({ store });
    cleanups.push(() => running.stop());
    const client = rawClient(`${running.wsUrl}/loading`);
    cleanups.push(() => client.ws.terminate());
    await loadStarted.promise;
    const deleted = del(running.url, "loading");
    gate.resolve();
    expect((await deleted).status).toBe(204);
    expect(await client.closed).toEqual({ code: CLOSE_NO_DOCUMENT, reason: "document deleted" });
    for (const bytes of client.messages) {
      const frame = decodeFrame(bytes);
      if (frame.type === "sync-step-2" || frame.type === "update") {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, frame.update);
        expect(doc.getText("t").toString()).not.toContain("secret");
      }
    }
    expect(await store.get("loading")).toBeNull();
    expect(await store.load("loading")).toEqual([]);
    // Later clients are turned away too; the document stays gone.
    const late = rawClient(`${running.wsUrl}/loading`);
    expect((await late.closed).code).toBe(CLOSE_NO_DOCUMENT);
    expect(await store.get("loading")).toBeNull();
    expect((await fetch(`${running.url}/api/documents/loading`)).status).toBe(404);
  });

  it("a stock y-websocket client that reconnects after a network drop does not bring the document back", async () => {
    const running = await startServer({ dir: tempDir() });
    cleanups.push(() => running.stop());
    const writer = connectProvider(running.wsUrl, "dropped");
    cleanups.push(() => writer.provider.destroy());
    await whenSynced(writer.provider);
    writer.doc.getText("t").insert(0, "written before the delete");
    const other = connectProvider(running.wsUrl, "dropped");
    cleanups.push(() => other.provider.destroy());
    await whenDoc(other.doc, (doc) => doc.getText("t").length > 0);
    other.provider.destroy();
    // The network drops: the writer goes away without a word...
    writer.provider.disconnect();
    await running.server.rooms.drain();
    // ...the document is deleted meanwhile...
    expect((await del(running.url, "dropped")).status).toBe(204);
    // ...and the writer comes back with everything it had.
    const refused = new Promise<number>((resolve) => {
      writer.provider.on("connection-close", (event: CloseEvent | null) => {
        if (event) resolve(event.code);
      });
    });
    writer.provider.connect();
    expect(await refused).toBe(CLOSE_NO_DOCUMENT);
    writer.provider.destroy();
    await running.server.rooms.drain();
    expect(await running.store.get("dropped")).toBeNull();
    expect(await running.store.load("dropped")).toEqual([]);
    const list = (await (await fetch(`${running.url}/api/documents`)).json()) as {
      documents: { id: string }[];
    };
    expect(list.documents.map((doc) => doc.id)).not.toContain("dropped");
  });

  it("a document created again right after its delete is usable at once, while a silent client of the old one still lingers", async () => {
    const running = await startServer({ dir: tempDir() });
    cleanups.push(() => running.stop());
    const stuck = rawClient(`${running.wsUrl}/reborn`);
    cleanups.push(() => stuck.ws.terminate());
    await stuck.next();
    // It never answers the close handshake: the old room cannot leave yet.
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    expect((await del(running.url, "reborn")).status).toBe(204);
    const created = await fetch(`${running.url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "reborn", title: "Fresh start" }),
    });
    expect(created.status).toBe(201);
    const fresh = connectProvider(running.wsUrl, "reborn");
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    expect(fresh.doc.getText("title").toString()).toBe("Fresh start");
  });

  it("creating a document again through the API starts it empty", async () => {
    const running = await startServer({ dir: tempDir() });
    cleanups.push(() => running.stop());
    const writer = connectProvider(running.wsUrl, "again");
    cleanups.push(() => writer.provider.destroy());
    await whenSynced(writer.provider);
    writer.doc.getText("t").insert(0, "old text");
    writer.provider.destroy();
    await running.server.rooms.drain();
    expect((await del(running.url, "again")).status).toBe(204);
    const created = await fetch(`${running.url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "again" }),
    });
    expect(created.status).toBe(201);
    const fresh = connectProvider(running.wsUrl, "again");
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    expect(fresh.doc.getText("t").toString()).toBe("");
  });
});
