import { CONTENT_FIELD } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { createTokenAuth, mintToken } from "../src/auth.ts";
import { RoomVersions } from "../src/room-versions.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import { restoreUpdate } from "../src/version-restore.ts";
import {
  connectProvider,
  fetchJson,
  jsonRequest,
  type Running,
  silentLogger,
  startServer,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

// Versions: named and automatic full states of a document, listed, read,
// and restored as a forward edit everyone sees.

let running: Running;
afterEach(async () => {
  await running?.stop();
});

const api = (path: string, init: RequestInit = {}) => fetchJson(running.url, path, init);

const post = (body: unknown, token?: string) => jsonRequest("POST", body, token);

/** Lexical's shape: a paragraph (Y.XmlText) holding a text node's properties (Y.Map) and its text. */
function writeParagraph(doc: Y.Doc, text: string): void {
  const root = doc.get(CONTENT_FIELD, Y.XmlText);
  const paragraph = new Y.XmlText();
  root.insertEmbed(root.length, paragraph);
  paragraph.setAttribute("__type", "paragraph");
  const properties = new Y.Map<unknown>();
  paragraph.insertEmbed(0, properties);
  properties.set("__type", "text");
  properties.set("__format", 1);
  paragraph.insert(1, text);
}

/** The body's paragraphs as text, and each text node's properties, for comparing documents. */
function contentOf(doc: Y.Doc): unknown[] {
  if (!doc.share.has(CONTENT_FIELD)) return [];
  return (doc.get(CONTENT_FIELD, Y.XmlText).toDelta() as { insert: unknown }[]).map(({ insert }) =>
    insert instanceof Y.XmlText
      ? {
          attributes: insert.getAttributes(),
          children: (insert.toDelta() as { insert: unknown }[]).map((op) =>
            op.insert instanceof Y.Map ? op.insert.toJSON() : op.insert,
          ),
        }
      : insert,
  );
}

function textOf(state: Uint8Array): string {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  return JSON.stringify(contentOf(doc));
}

describe("restoreUpdate", () => {
  it("turns the current document into the version's title and body, properties included", () => {
    const live = new Y.Doc();
    live.getText("title").insert(0, "Old title");
    writeParagraph(live, "kept words");
    const version = Y.encodeStateAsUpdate(live);
    const expected = contentOf(live);

    live.getText("title").delete(0, 3);
    live.getText("title").insert(0, "New");
    live.get(CONTENT_FIELD, Y.XmlText).delete(0, 1);
    writeParagraph(live, "later words");

    // Another replica that has the live state gets the restore as an update.
    const replica = new Y.Doc();
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(live));
    Y.applyUpdate(replica, restoreUpdate(live, version));
    expect(replica.getText("title").toString()).toBe("Old title");
    expect(contentOf(replica)).toEqual(expected);
  });
});

describe("RoomVersions", () => {
  it("takes an automatic version while editing goes on without a pause, once the interval is up", async () => {
    const store = new MemoryDocStore();
    const doc = new Y.Doc();
    writeParagraph(doc, "start");
    await store.append("d", Y.encodeStateAsUpdate(doc), { at: 1 });
    const versions = new RoomVersions({
      docId: "d",
      store,
      logger: silentLogger,
      now: () => 5,
      policy: { idleMs: 60_000, maxIntervalMs: 30, keepAutomatic: 5 },
      state: () => Y.encodeStateAsUpdate(doc),
    });
    // Edits keep coming, far more often than the pause it would wait for.
    let turn = 0;
    while ((await store.listVersions("d", 10)).length === 0) {
      versions.edited(turn % 2 === 0 ? "Ada" : "Grace");
      turn++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await store.listVersions("d", 10)).toMatchObject([
      { name: null, authors: ["Ada", "Grace"] },
    ]);
    await versions.close();
  });
});

describe("versions over the API", () => {
  it("saves a named version, reads it back, and restores it for everyone", async () => {
    running = await startServer();
    const { id } = (await api("/api/documents", post({ title: "Essay" }))).body;
    const writer = connectProvider(running.wsUrl, id);
    const reader = connectProvider(running.wsUrl, id);
    await Promise.all([whenSynced(writer.provider), whenSynced(reader.provider)]);
    writeParagraph(writer.doc, "first draft");
    await whenDoc(reader.doc, (d) => JSON.stringify(contentOf(d)).includes("first draft"));

    const saved = await api(`/api/documents/${id}/versions`, post({ name: "  Draft 1 " }));
    expect(saved.status).toBe(201);
    expect(saved.body).toMatchObject({ name: "Draft 1", authors: [] });

    writeParagraph(writer.doc, "second thoughts");
    await whenDoc(reader.doc, (d) => JSON.stringify(contentOf(d)).includes("second thoughts"));

    const listed = await api(`/api/documents/${id}/versions`);
    // Named ones, beside the automatic one taken when the creating request's room closed.
    const names = listed.body.versions.map((v: { name: string | null }) => v.name);
    expect(names.filter((name: string | null) => name !== null)).toEqual(["Draft 1"]);
    const read = await api(`/api/documents/${id}/versions/${saved.body.id}`);
    const state = new Uint8Array(Buffer.from(read.body.state, "base64"));
    expect(textOf(state)).toContain("first draft");
    expect(textOf(state)).not.toContain("second thoughts");

    const restored = await api(`/api/documents/${id}/versions/${saved.body.id}/restore`, post({}));
    expect(restored.status).toBe(200);
    for (const doc of [writer.doc, reader.doc]) {
      await whenDoc(doc, (d) => !JSON.stringify(contentOf(d)).includes("second thoughts"));
      expect(JSON.stringify(contentOf(doc))).toContain("first draft");
      expect(doc.getText("title").toString()).toBe("Essay");
    }

    // What the restore replaced is a version too: restoring it undoes the restore.
    expect(restored.body.before.name).toBe("Before restoring Draft 1");
    await api(`/api/documents/${id}/versions/${restored.body.before.id}/restore`, post({}));
    await whenDoc(reader.doc, (d) => JSON.stringify(contentOf(d)).includes("second thoughts"));
    writer.provider.destroy();
    reader.provider.destroy();
  });

  it("takes an automatic version after a pause in editing, naming who edited", async () => {
    running = await startServer({
      versions: { idleMs: 50, maxIntervalMs: 10_000, keepAutomatic: 3 },
    });
    const { id } = (await api("/api/documents", post({}))).body;
    const { doc, provider } = connectProvider(running.wsUrl, id);
    provider.awareness.setLocalStateField("name", "Ada");
    await whenSynced(provider);
    writeParagraph(doc, "typed by Ada");
    let versions: { name: string | null; authors: string[] }[] = [];
    while (versions.length === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      versions = (await api(`/api/documents/${id}/versions`)).body.versions;
    }
    expect(versions).toMatchObject([{ name: null, authors: ["Ada"] }]);
    provider.destroy();
  });

  it.each([
    ["an unknown document", "/api/documents/nope/versions", {}, 404],
    ["an unknown version", "/api/documents/d/versions/12345", {}, 404],
    ["a bad version id", "/api/documents/d/versions/abc", {}, 400],
    ["an empty name", "/api/documents/d/versions", post({ name: " " }), 400],
    ["a name that is too long", "/api/documents/d/versions", post({ name: "n".repeat(201) }), 400],
    ["restoring an unknown version", "/api/documents/d/versions/999/restore", post({}), 404],
  ])("answers %s with a clear error", async (_name, path, init, status) => {
    running = await startServer();
    await api("/api/documents", post({ id: "d" }));
    const res = await api(path, init);
    expect(res.status).toBe(status);
    expect(res.body.error.message).toBeTruthy();
  });

  it("lets a reader list and read versions, but not save or restore them", async () => {
    const secret = "versions-secret-versions-secret-42";
    running = await startServer({ authorize: await createTokenAuth({ secret }) });
    const token = (permission: "read" | "write") =>
      mintToken({ secret, userId: "u", name: "Grace", doc: "d", permission, expiresIn: 600 });
    const writer = await token("write");
    const reader = await token("read");
    await api("/api/documents", post({ id: "d" }, writer));
    const saved = await api("/api/documents/d/versions", post({ name: "v1" }, writer));
    expect(saved.body.authors).toEqual(["Grace"]);
    const asReader = { headers: { authorization: `Bearer ${reader}` } };
    expect((await api("/api/documents/d/versions", asReader)).status).toBe(200);
    expect((await api(`/api/documents/d/versions/${saved.body.id}`, asReader)).status).toBe(200);
    expect((await api("/api/documents/d/versions", post({ name: "no" }, reader))).status).toBe(403);
    const restore = `/api/documents/d/versions/${saved.body.id}/restore`;
    expect((await api(restore, post({}, reader))).status).toBe(403);
    expect((await api("/api/documents/d/versions")).status).toBe(401);
  });
});
