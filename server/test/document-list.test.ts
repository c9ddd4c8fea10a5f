import { CONTENT_FIELD } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  connectProvider,
  fetchJson,
  jsonRequest,
  type Running,
  startServer,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

// The document list as its API promises: only documents someone meant to
// exist, searchable by title, in pages; renaming is an edit everyone sees.

let running: Running;
afterEach(async () => {
  await running?.stop();
});

const api = (path: string, init: RequestInit = {}) => fetchJson(running.url, path, init);

const send = (method: string, body: unknown) => jsonRequest(method, body);

const listedIds = async (query = "") =>
  (await api(`/api/documents${query}`)).body.documents.map((d: { id: string }) => d.id);

/** What Lexical's Yjs binding writes into an empty document: one empty paragraph. */
function addEmptyParagraph(doc: Y.Doc): Y.XmlText {
  const paragraph = new Y.XmlText();
  doc.get(CONTENT_FIELD, Y.XmlText).insertEmbed(0, paragraph);
  paragraph.setAttribute("__type", "paragraph");
  return paragraph;
}

/** The body text as an observer sees it; the server relays only what it has stored. */
function bodyText(doc: Y.Doc): string {
  const first = doc.get(CONTENT_FIELD, Y.XmlText).toDelta()[0]?.insert;
  return first instanceof Y.XmlText ? first.toString() : "(none)";
}

describe("the document list", () => {
  it("does not list a document that was only opened, until someone writes in it", async () => {
    running = await startServer();
    const { doc, provider } = connectProvider(running.wsUrl, "just-opened");
    const observer = connectProvider(running.wsUrl, "just-opened");
    await Promise.all([whenSynced(provider), whenSynced(observer.provider)]);
    const paragraph = addEmptyParagraph(doc);
    await whenDoc(observer.doc, (d) => bodyText(d) === "");
    expect(await listedIds()).toEqual([]);
    // A GET of the document itself still answers: it exists.
    expect((await api("/api/documents/just-opened")).status).toBe(200);

    paragraph.insert(0, "First words");
    await whenDoc(observer.doc, (d) => bodyText(d) === "First words");
    expect(await listedIds()).toEqual(["just-opened"]);
    // Listed for good, also once the text is gone again.
    paragraph.delete(0, paragraph.length);
    await whenDoc(observer.doc, (d) => bodyText(d) === "");
    expect(await listedIds()).toEqual(["just-opened"]);
    provider.destroy();
    observer.provider.destroy();
  });

  it("lists a document once it has a title, and one created through the API at once", async () => {
    running = await startServer();
    const { doc, provider } = connectProvider(running.wsUrl, "titled");
    const observer = connectProvider(running.wsUrl, "titled");
    await Promise.all([whenSynced(provider), whenSynced(observer.provider)]);
    doc.getText("title").insert(0, "Minutes");
    await whenDoc(observer.doc, (d) => d.getText("title").toString() === "Minutes");
    const created = await api("/api/documents", send("POST", {}));
    expect(await listedIds()).toEqual([created.body.id, "titled"]);
    provider.destroy();
    observer.provider.destroy();
  });

  it("filters by title, ignoring case", async () => {
    running = await startServer();
    for (const title of ["Quarterly plans", "Holiday PLAN", "Notes"]) {
      await api("/api/documents", send("POST", { title }));
    }
    const found = await api("/api/documents?q=plan");
    expect(found.body.documents.map((d: { title: string }) => d.title).sort()).toEqual([
      "Holiday PLAN",
      "Quarterly plans",
    ]);
    expect((await api("/api/documents?q=zzz")).body.documents).toEqual([]);
  });

  it("pages with a cursor until nextCursor is null, each document once", async () => {
    let clock = 1000;
    running = await startServer({ now: () => clock });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      // Two documents per instant: the order must not depend on times alone.
      clock += i % 2;
      ids.push((await api("/api/documents", send("POST", { id: `doc-${i}` }))).body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = await api(`/api/documents${query}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.documents.map((d: { id: string }) => d.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(await listedIds());
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it.each([
    ["garbage", "not-a-cursor!"],
    ["valid base64 of the wrong shape", Buffer.from('{"x":1}').toString("base64url")],
  ])("answers a cursor that is %s with 400", async (_name, cursor) => {
    running = await startServer();
    const res = await api(`/api/documents?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("bad_request");
  });
});

describe("renaming a document", () => {
  it("changes the title in the list and in every open editor", async () => {
    running = await startServer();
    const created = await api("/api/documents", send("POST", { title: "Draft" }));
    const { id } = created.body;
    const { doc, provider } = connectProvider(running.wsUrl, id);
    await whenSynced(provider);
    const renamed = await api(`/api/documents/${id}`, send("PATCH", { title: "  Final  " }));
    expect(renamed.status).toBe(200);
    expect(renamed.body.title).toBe("Final");
    await whenDoc(doc, (d) => d.getText("title").toString() === "Final");
    expect((await api("/api/documents")).body.documents[0].title).toBe("Final");
    provider.destroy();
  });

  it("renames a document nobody has open, durably", async () => {
    running = await startServer();
    const { id } = (await api("/api/documents", send("POST", { title: "Old" }))).body;
    expect((await api(`/api/documents/${id}`, send("PATCH", { title: "New" }))).status).toBe(200);
    const stored = new Y.Doc();
    for (const update of await running.store.load(id)) Y.applyUpdate(stored, update);
    expect(stored.getText("title").toString()).toBe("New");
  });

  it.each([
    ["an unknown document", "/api/documents/nope", send("PATCH", { title: "T" }), 404],
    ["a missing title", "/api/documents/x", send("PATCH", {}), 400],
    ["a too-long title", "/api/documents/x", send("PATCH", { title: "t".repeat(201) }), 400],
    ["unknown fields", "/api/documents/x", send("PATCH", { title: "T", id: "y" }), 400],
    ["a body that is not JSON", "/api/documents/x", { method: "PATCH", body: "title=T" }, 415],
  ])("answers %s with a clear error", async (_name, path, init, status) => {
    running = await startServer();
    await api("/api/documents", send("POST", { id: "x", title: "Kept" }));
    const res = await api(path, init);
    expect(res.status).toBe(status);
    expect(res.body.error.message).toBeTruthy();
    expect((await api("/api/documents/x")).body.title).toBe("Kept");
  });
});
