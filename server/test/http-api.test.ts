import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { MemoryDocStore } from "../src/storage/memory.ts";
import {
  connectProvider,
  deferred,
  fetchJson,
  jsonRequest,
  type Running,
  startServer,
  tempDir,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

let running: Running;
afterEach(async () => {
  await running?.stop();
});

const api = (path: string, init: RequestInit = {}) => fetchJson(running.url, path, init);

const json = (body: unknown) => jsonRequest("POST", body);

describe("HTTP API", () => {
  it("creates, lists, gets and deletes documents", async () => {
    running = await startServer();
    const created = await api("/api/documents", json({ title: "Plans" }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: "Plans" });
    expect(created.body.id).toMatch(/^[a-z0-9]{12}$/);
    expect(created.headers.get("location")).toBe(`/api/documents/${created.body.id}`);

    const second = await api("/api/documents", json({}));
    expect(second.status).toBe(201);
    expect(second.body.title).toBe("");

    const list = await api("/api/documents");
    expect(list.status).toBe(200);
    expect(list.body.documents.map((d: { id: string }) => d.id).sort()).toEqual(
      [created.body.id, second.body.id].sort(),
    );

    const got = await api(`/api/documents/${created.body.id}`);
    expect(got.body).toEqual(created.body);

    expect((await api(`/api/documents/${created.body.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/api/documents/${created.body.id}`)).status).toBe(404);
  });

  it("puts the title given at creation into the document itself", async () => {
    running = await startServer();
    const created = await api("/api/documents", json({ title: "Shared title" }));
    const doc = new Y.Doc();
    for (const update of await running.store.load(created.body.id)) Y.applyUpdate(doc, update);
    expect(doc.getText("title").toString()).toBe("Shared title");
  });

  it("lists the most recently changed document first", async () => {
    let clock = 1000;
    running = await startServer({ now: () => clock });
    const a = await api("/api/documents", json({ id: "first" }));
    clock = 2000;
    await api("/api/documents", json({ id: "second" }));
    clock = 3000;
    await running.store.append("first", new Uint8Array([0, 0]), { at: clock });
    const list = await api("/api/documents");
    expect(list.body.documents.map((d: { id: string }) => d.id)).toEqual(["first", "second"]);
    expect(list.body.documents[0].updatedAt).toBe(new Date(3000).toISOString());
    expect(a.body.createdAt).toBe(new Date(1000).toISOString());
  });

  it("answers a browser's request for an unknown page with a page, and API clients with JSON", async () => {
    running = await startServer();
    const html = { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } };
    const page = await fetch(`${running.url}/no/such/page`, html);
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("Page not found");
    const apiRoute = await fetch(`${running.url}/api/nothing`, html);
    expect(apiRoute.status).toBe(404);
    expect((await apiRoute.json()).error.code).toBe("not_found");
  });

  it.each([
    ["an invalid id", "/api/documents/bad%20id", {}, 400, "bad_request"],
    ["an unknown document", "/api/documents/unknown", {}, 404, "not_found"],
    ["an unknown API route", "/api/nothing", {}, 404, "not_found"],
    ["an unknown page", "/no/such/page", {}, 404, "not_found"],
    [
      "malformed JSON",
      "/api/documents",
      { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" },
      400,
      "invalid_json",
    ],
    [
      "a non-JSON body",
      "/api/documents",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" },
      415,
      "unsupported_media_type",
    ],
    [
      "a huge body",
      "/api/documents",
      // Over the limit of a new document's body (which may carry content).
      json({ title: "x".repeat(300_000) }),
      413,
      "payload_too_large",
    ],
    ["a too-long title", "/api/documents", json({ title: "x".repeat(201) }), 400, "bad_request"],
    ["unknown fields", "/api/documents", json({ color: "red" }), 400, "bad_request"],
    ["a bad id in the body", "/api/documents", json({ id: "../etc" }), 400, "bad_request"],
    ["a bad limit", "/api/documents?limit=-3", {}, 400, "bad_request"],
  ] as const)("answers %s with a JSON 4xx error", async (_name, path, init, status, code) => {
    running = await startServer();
    const res = await api(path, init as RequestInit);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it("refuses to create a document whose id exists with 409", async () => {
    running = await startServer();
    expect((await api("/api/documents", json({ id: "taken" }))).status).toBe(201);
    const again = await api("/api/documents", json({ id: "taken" }));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
  });

  it("refuses with 409 to create a document a client already opened", async () => {
    running = await startServer();
    const { doc, provider } = connectProvider(running.wsUrl, "opened");
    await whenSynced(provider);
    const res = await api("/api/documents", json({ id: "opened", title: "Mine" }));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("conflict");
    expect(doc.getText("title").toString()).toBe("");
    provider.destroy();
  });

  it("a title set at creation reaches clients that joined while the document was being created", async () => {
    running = await startServer();
    // Hold the request between creating the row and writing the title, and
    // let a client open the (empty) document in that gap.
    const create = running.store.create.bind(running.store);
    const created = deferred();
    const gate = deferred();
    running.store.create = async (meta) => {
      const result = await create(meta);
      created.resolve();
      await gate.promise;
      return result;
    };
    const posting = api("/api/documents", json({ id: "raced", title: "Raced title" }));
    await created.promise;
    const first = connectProvider(running.wsUrl, "raced");
    await whenSynced(first.provider);
    gate.resolve();
    expect((await posting).status).toBe(201);

    // The room is still open (the first client holds it): a newcomer is
    // answered from its Y.Doc, not from storage.
    const second = connectProvider(running.wsUrl, "raced");
    await whenSynced(second.provider);
    expect(second.doc.getText("title").toString()).toBe("Raced title");
    await whenDoc(first.doc, (doc) => doc.getText("title").toString() === "Raced title");
    first.provider.destroy();
    second.provider.destroy();
  });

  it("answers garbage on the socket with 400 and stays up", async () => {
    running = await startServer();
    const port = Number(new URL(running.url).port);
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write("GARBAGE\r\n\r\n"));
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk;
      });
      socket.on("close", () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await api("/healthz")).status).toBe(200);
  });

  it("reports live connection counts, per document on request", async () => {
    running = await startServer();
    const a = connectProvider(running.wsUrl, "counted");
    try {
      await whenSynced(a.provider);
      expect((await api("/api/stats?doc=counted")).body).toEqual({
        connections: 1,
        sockets: 1,
        documents: 1,
        doc: { id: "counted", connections: 1 },
        httpSessions: { open: 0, polling: 0 },
      });
      expect((await api("/api/stats?doc=bad%20id")).status).toBe(400);
    } finally {
      a.provider.destroy();
    }
  });

  it("serves Prometheus metrics: connections, documents and time to durable", async () => {
    running = await startServer();
    const a = connectProvider(running.wsUrl, "measured");
    const b = connectProvider(running.wsUrl, "measured");
    try {
      await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
      a.doc.getText("t").insert(0, "counted");
      await whenDoc(b.doc, (doc) => doc.getText("t").toString() === "counted");
      const res = await fetch(`${running.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/^cowrite_connections 2$/m);
      expect(text).toMatch(/^cowrite_open_documents 1$/m);
      expect(text).toMatch(/^cowrite_update_durable_seconds_count [1-9]/m);
      expect(text).toMatch(/^cowrite_update_durable_seconds_bucket\{le="\+Inf"\} [1-9]/m);
      expect(text).toMatch(/^cowrite_update_broadcast_seconds_count [1-9]/m);
      expect(text).toMatch(/^cowrite_updates_broadcast_total [1-9]/m);
    } finally {
      a.provider.destroy();
      b.provider.destroy();
    }
  });

  it("serves the embedding library to pages on any origin", async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, "dist"));
    fs.mkdirSync(path.join(root, "dist-lib"));
    fs.writeFileSync(path.join(root, "dist-lib", "cowrite.js"), "export const x = 1;\n");
    running = await startServer({ clientDir: path.join(root, "dist") });
    const res = await fetch(`${running.url}/lib/cowrite.js`, {
      headers: { origin: "https://app.example" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.text()).toContain("export const x");
  });

  it("marks the app page for the service worker, and serves the worker uncached", async () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, "dist"));
    fs.writeFileSync(path.join(root, "dist", "index.html"), '<div id="app"></div>\n');
    fs.writeFileSync(path.join(root, "dist", "sw.js"), "// worker\n");
    running = await startServer({ clientDir: path.join(root, "dist") });
    for (const page of ["/", "/d/some-doc"]) {
      const res = await fetch(`${running.url}${page}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cowrite-app")).toBe("1");
    }
    // Other answers are never taken for the app page.
    const missing = await fetch(`${running.url}/nowhere`, { headers: { accept: "text/html" } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-cowrite-app")).toBeNull();
    const worker = await fetch(`${running.url}/sw.js`);
    expect(worker.headers.get("cache-control")).toBe("no-cache");
  });

  it("reports health and readiness", async () => {
    running = await startServer();
    expect((await api("/healthz")).body).toEqual({ status: "ok" });
    expect((await api("/readyz")).body).toEqual({ status: "ready" });
  });
});

describe("storage failures", () => {
  it("a failing disk keeps the update unacknowledged, shows in /readyz, and recovers", async () => {
    const store = new MemoryDocStore();
    const append = store.append.bind(store);
    let failing = true;
    let failures = 0;
    const { promise: failed, resolve: signalFailure } = deferred();
    store.append = async (...args) => {
      if (failing) {
        // One failed attempt may be routine contention; two are an outage.
        if (++failures === 2) signalFailure();
        throw new Error("ENOSPC: no space left on device");
      }
      return append(...args);
    };
    running = await startServer({ store });
    const a = connectProvider(running.wsUrl, "disk");
    const b = connectProvider(running.wsUrl, "disk");
    try {
      await Promise.all([whenSynced(a.provider), whenSynced(b.provider)]);
      a.doc.getText("t").insert(0, "precious");
      await failed;
      const ready = await api("/readyz");
      expect(ready.status).toBe(503);
      // Public: no document ids, no error text.
      expect(ready.body).toEqual({ status: "saves failing" });
      // Not broadcast while it is not stored.
      expect(b.doc.getText("t").toString()).toBe("");
      failing = false;
      await whenDoc(b.doc, (d) => d.getText("t").toString() === "precious");
      expect((await api("/readyz")).status).toBe(200);
      expect((await store.load("disk")).length).toBe(1);
    } finally {
      a.provider.destroy();
      b.provider.destroy();
    }
  });
});
