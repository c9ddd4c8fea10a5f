/**
 * Export (GET /api/documents/:id/export) and import (POST /api/documents
 * with content) against a real server with SQLite. Content is written the
 * way a browser writes it: a Lexical editor with the app's nodes, bound to a
 * Y.Doc by @lexical/yjs, synced over y-websocket.
 */
import { CONTENT_FIELD, CREATE_BODY_MAX_BYTES, TITLE_FIELD } from "@cowrite/shared";
import { $convertFromMarkdownString } from "@lexical/markdown";
import { createYjsBinding, syncLexicalUpdateToYjs, syncYjsChangesToLexical } from "@lexical/yjs";
import { createEditor } from "lexical";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { bootstrapEmptyDocument } from "../../client/src/binding.ts";
import { EDITOR_NODES, MARKDOWN_TRANSFORMERS } from "../../client/src/editor-nodes.ts";
import { createTokenAuth, mintToken } from "../src/auth.ts";
import { NO_PROVIDER } from "../src/document-format.ts";
import { connectProvider, type Running, startServer, whenDoc, whenSynced } from "./helpers.ts";

const MARKDOWN = [
  "# Quarterly plan",
  "",
  "Some **bold** and *italic* words, a [link](https://example.com/) and `inline code`.",
  "",
  "- apples",
  "- pears",
  "",
  "1. first",
  "2. second",
  "",
  "> a quoted line",
  "",
  "```",
  "let x = 1;",
  "```",
].join("\n");

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const running = await startServer(options);
  cleanups.push(() => running.stop());
  return running;
}

async function createDoc(running: Running, body: object, token?: string): Promise<Response> {
  return fetch(`${running.url}/api/documents`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

function exportOf(running: Running, id: string, format: string, token?: string) {
  const query = `format=${format}${token ? `&token=${token}` : ""}`;
  return fetch(`${running.url}/api/documents/${id}/export?${query}`);
}

const noop = () => {};

/** A Lexical editor with the app's nodes bound to `doc` both ways, as binding.ts binds one. */
function bindHeadless(doc: Y.Doc) {
  const editor = createEditor({
    namespace: "test",
    nodes: EDITOR_NODES,
    onError: (error) => {
      throw error;
    },
  });
  const binding = createYjsBinding({
    editor,
    id: CONTENT_FIELD,
    doc,
    docMap: new Map([[CONTENT_FIELD, doc]]),
    rootName: CONTENT_FIELD,
  });
  binding.root.getSharedType().observeDeep((events, transaction) => {
    if (transaction.origin !== binding)
      syncYjsChangesToLexical(binding, NO_PROVIDER, events, false, noop);
  });
  editor.registerUpdateListener((u) => {
    syncLexicalUpdateToYjs(
      binding,
      NO_PROVIDER,
      u.prevEditorState,
      u.editorState,
      u.dirtyElements,
      u.dirtyLeaves,
      u.normalizedNodes,
      u.tags,
    );
  });
  return editor;
}

/** Writes MARKDOWN into document `id` as a connected editor would, and waits until the server has it. */
async function writeAsClient(running: Running, id: string, title: string): Promise<() => void> {
  const writer = connectProvider(running.wsUrl, id);
  const reader = connectProvider(running.wsUrl, id);
  await Promise.all([whenSynced(writer.provider), whenSynced(reader.provider)]);
  const editor = bindHeadless(writer.doc);
  editor.update(() => $convertFromMarkdownString(MARKDOWN, MARKDOWN_TRANSFORMERS), {
    discrete: true,
  });
  writer.doc.getText(TITLE_FIELD).insert(0, title);
  // The reader has it once the server's room has it.
  const sent = Y.encodeStateVector(writer.doc);
  await whenDoc(reader.doc, (doc) => sameVector(Y.encodeStateVector(doc), sent));
  return () => {
    writer.provider.destroy();
    reader.provider.destroy();
  };
}

function sameVector(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

describe("export", () => {
  it("renders a document written by an editor as Markdown with its structure", async () => {
    const running = await server();
    await createDoc(running, { id: "plan" });
    cleanups.push(await writeAsClient(running, "plan", "Plan"));

    const res = await exportOf(running, "plan", "markdown");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="Plan.md"');
    expect(await res.text()).toBe(`${MARKDOWN}\n`);
  });

  it("renders the same document as HTML with headings, lists, marks, links, quotes and code", async () => {
    const running = await server();
    await createDoc(running, { id: "plan" });
    cleanups.push(await writeAsClient(running, "plan", "Plan <2>"));

    const res = await exportOf(running, "plan", "html");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    expect(html).toContain("<title>Plan &#60;2&#62;</title>");
    expect(html).toMatch(/<h1>.*Quarterly plan.*<\/h1>/);
    expect(html).toMatch(/<strong[^>]*>bold<\/strong>/);
    expect(html).toMatch(/<em[^>]*>italic<\/em>/);
    expect(html).toMatch(/<a href="https:\/\/example.com\/">.*link.*<\/a>/);
    expect(html).toMatch(/<code[^>]*>.*inline code.*<\/code>/);
    expect(html).toMatch(/<ul><li[^>]*>.*apples.*<\/li><li[^>]*>.*pears.*<\/li><\/ul>/);
    expect(html).toMatch(/<ol><li[^>]*>.*first.*<\/li><li[^>]*>.*second.*<\/li><\/ol>/);
    expect(html).toMatch(/<blockquote>.*a quoted line.*<\/blockquote>/);
    expect(html).toMatch(/<pre[^>]*>.*let x = 1;.*<\/pre>/);
    // No DOM is left behind in the server process.
    expect(typeof (globalThis as { document?: unknown }).document).toBe("undefined");
  });

  it("gives plain text after the title, and JSON with the title and Lexical's state", async () => {
    const running = await server();
    await createDoc(running, { id: "plan" });
    cleanups.push(await writeAsClient(running, "plan", "Plan"));

    const text = await exportOf(running, "plan", "text");
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(text.headers.get("content-disposition")).toBe('attachment; filename="Plan.txt"');
    expect(await text.text()).toBe(
      [
        "Plan",
        "Quarterly plan",
        "Some bold and italic words, a link and inline code.",
        "apples",
        "pears",
        "first",
        "second",
        "a quoted line",
        "let x = 1;\n",
      ].join("\n\n"),
    );

    const json = await exportOf(running, "plan", "json");
    expect(json.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const parsed = (await json.json()) as {
      title: string;
      editorState: { root: { children: { type: string }[] } };
    };
    expect(parsed.title).toBe("Plan");
    expect(parsed.editorState.root.children.map((child) => child.type)).toEqual([
      "heading",
      "paragraph",
      "list",
      "list",
      "quote",
      "code",
    ]);
  });

  it("names the file after the title, safely, with RFC 5987 for non-ASCII", async () => {
    const running = await server();
    await createDoc(running, { id: "cafe", title: 'Café "notes"/2' });
    const res = await exportOf(running, "cafe", "markdown");
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Caf_ notes 2.md"; filename*=UTF-8''Caf%C3%A9%20notes%202.md`,
    );
    await createDoc(running, { id: "untitled-doc" });
    const untitled = await exportOf(running, "untitled-doc", "text");
    expect(untitled.headers.get("content-disposition")).toBe(
      'attachment; filename="untitled-doc.txt"',
    );
    expect(await untitled.text()).toBe("");
  });

  it("answers 404 for an unknown document and 400 for an unknown format", async () => {
    const running = await server();
    expect((await exportOf(running, "nope", "markdown")).status).toBe(404);
    await createDoc(running, { id: "known" });
    const bad = await exportOf(running, "known", "docx");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    expect((await exportOf(running, "known", "")).status).toBe(400);
  });

  it("needs read access to the document, from a header or ?token=", async () => {
    const secret = "test-secret-test-secret-test-secret-42";
    const running = await server({ authorize: await createTokenAuth({ secret }) });
    const mint = (doc: string, permission: "read" | "write") =>
      mintToken({ secret, userId: "a", name: "A", doc, permission, expiresIn: 600 });
    expect((await createDoc(running, { id: "secret" }, await mint("secret", "write"))).status).toBe(
      201,
    );
    expect((await exportOf(running, "secret", "markdown")).status).toBe(401);
    expect(
      (await exportOf(running, "secret", "markdown", await mint("other", "read"))).status,
    ).toBe(403);
    expect(
      (await exportOf(running, "secret", "markdown", await mint("secret", "read"))).status,
    ).toBe(200);
  });
});

describe("import", () => {
  it("imports Markdown that exports as the same Markdown, titled by its first heading", async () => {
    const running = await server();
    const created = await createDoc(running, {
      content: { format: "markdown", text: MARKDOWN },
    });
    expect(created.status).toBe(201);
    const meta = (await created.json()) as { id: string; title: string };
    expect(meta.title).toBe("Quarterly plan");

    const res = await exportOf(running, meta.id, "markdown");
    expect(await res.text()).toBe(`${MARKDOWN}\n`);
  });

  it("keeps a given title, and a client that opens the import adds nothing of its own", async () => {
    const running = await server();
    const created = await createDoc(running, {
      id: "given",
      title: "Given title",
      content: { format: "text", text: "line one\nline two" },
    });
    expect(((await created.json()) as { title: string }).title).toBe("Given title");
    const client = connectProvider(running.wsUrl, "given");
    cleanups.push(() => client.provider.destroy());
    await whenSynced(client.provider);
    // Two paragraphs, as a client's editor writes them.
    expect(client.doc.get(CONTENT_FIELD, Y.XmlText).toDelta()).toHaveLength(2);
    // The app's first-visit bootstrap sees a written document and leaves it alone.
    const binding = createYjsBinding({
      editor: bindHeadless(new Y.Doc()),
      id: CONTENT_FIELD,
      doc: client.doc,
      docMap: new Map([[CONTENT_FIELD, client.doc]]),
      rootName: CONTENT_FIELD,
    });
    expect(bootstrapEmptyDocument(binding)).toBe(false);
    expect(await (await exportOf(running, "given", "text")).text()).toBe(
      "Given title\n\nline one\n\nline two\n",
    );
  });

  it("imports HTML without its scripts and styles", async () => {
    const running = await server();
    const html =
      "<html><head><style>h2{color:red}</style><script>alert('head')</script></head><body>" +
      "<h2>From the web</h2><p>Text with <b>bold</b> and <a href='https://example.org/'>a link</a>" +
      "<script>alert('inline')</script></p><ul><li>one</li><li>two</li></ul>" +
      "<script>document.write('evil')</script>loose text</body></html>";
    const created = await createDoc(running, { content: { format: "html", text: html } });
    expect(created.status).toBe(201);
    const meta = (await created.json()) as { id: string; title: string };
    expect(meta.title).toBe("From the web");
    const markdown = await (await exportOf(running, meta.id, "markdown")).text();
    expect(markdown).toBe(
      "## From the web\n\nText with **bold** and [a link](https://example.org/)\n\n- one\n- two\n\nloose text\n",
    );
    expect(markdown).not.toMatch(/alert|evil|color/);
  });

  it("refuses a body over the limit with 413 and creates nothing", async () => {
    const running = await server();
    const text = "x".repeat(CREATE_BODY_MAX_BYTES);
    const res = await createDoc(running, { id: "huge", content: { format: "text", text } });
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("payload_too_large");
    expect(error.message).toBe(`the request body is larger than ${CREATE_BODY_MAX_BYTES} bytes`);
    expect((await fetch(`${running.url}/api/documents/huge`)).status).toBe(404);
    // Other requests keep their small limit.
    const rename = await fetch(`${running.url}/api/documents/huge`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "x".repeat(20_000) }),
    });
    expect(rename.status).toBe(413);
  });

  it("refuses an unknown import format with 400", async () => {
    const running = await server();
    const res = await createDoc(running, { content: { format: "docx", text: "x" } });
    expect(res.status).toBe(400);
  });
});
