// @vitest-environment jsdom
import { $getRoot, createEditor, type LexicalEditor } from "lexical";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  BOOTSTRAP_CLIENT_ID,
  bindEditor,
  bootstrapClientIdFor,
  type EditorBinding,
} from "../src/binding.ts";
import { EDITOR_NODES } from "../src/editor.ts";
import { type InitialContentInput, toInitialContent } from "../src/initial-content.ts";
import { FakeProvider } from "./helpers.ts";

interface Client {
  doc: Y.Doc;
  editor: LexicalEditor;
  provider: FakeProvider;
  bound: EditorBinding;
}

const clients: Client[] = [];

function openClient(name: string, options: { readOnly?: boolean } = {}): Client {
  const doc = new Y.Doc();
  const editor = createEditor({
    namespace: "test",
    onError: (error) => {
      throw error;
    },
  });
  const provider = new FakeProvider(doc);
  const bound = bindEditor({
    editor,
    provider: provider.asLexicalProvider(),
    doc,
    user: { name, color: "#000000" },
    ...options,
  });
  const client = { doc, editor, provider, bound };
  clients.push(client);
  return client;
}

function exchange(a: Y.Doc, b: Y.Doc): void {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, toB, "remote");
  Y.applyUpdate(a, toA, "remote");
}

function blockTypes(editor: LexicalEditor): string[] {
  return editor.getEditorState().read(() =>
    $getRoot()
      .getChildren()
      .map((node) => node.getType()),
  );
}

afterEach(() => {
  for (const client of clients.splice(0)) {
    client.bound.destroy();
    client.provider.destroy();
  }
});

describe("deterministic bootstrap", () => {
  it("two clients bootstrapping an empty document concurrently end with one paragraph", async () => {
    const alice = openClient("Alice");
    const bob = openClient("Bob");
    // Both see an empty document from the server at the same moment.
    alice.provider.events.emit("sync", true);
    bob.provider.events.emit("sync", true);
    expect(blockTypes(alice.editor)).toEqual(["paragraph"]);
    expect(blockTypes(bob.editor)).toEqual(["paragraph"]);
    // Identical structs: the two updates are byte-for-byte the same.
    expect(Y.encodeStateAsUpdate(alice.doc)).toEqual(Y.encodeStateAsUpdate(bob.doc));

    exchange(alice.doc, bob.doc);
    await Promise.resolve();
    expect(blockTypes(alice.editor)).toEqual(["paragraph"]);
    expect(blockTypes(bob.editor)).toEqual(["paragraph"]);
    expect(alice.doc.get("root", Y.XmlText).toDelta()).toHaveLength(1);
    expect(bob.doc.get("root", Y.XmlText).toDelta()).toHaveLength(1);
  });

  it("one paragraph even when a client types before the other's bootstrap arrives", async () => {
    const alice = openClient("Alice");
    const bob = openClient("Bob");
    alice.provider.events.emit("sync", true);
    bob.provider.events.emit("sync", true);
    bob.editor.update(
      () => {
        $getRoot().getFirstChildOrThrow().selectStart().insertText("hi");
      },
      { discrete: true },
    );
    exchange(alice.doc, bob.doc);
    await Promise.resolve();
    for (const client of [alice, bob]) {
      expect(blockTypes(client.editor)).toEqual(["paragraph"]);
      expect(client.editor.getEditorState().read(() => $getRoot().getTextContent())).toBe("hi");
    }
  });

  it("keeps the real client id after bootstrapping", () => {
    const alice = openClient("Alice");
    const realId = alice.doc.clientID;
    alice.provider.events.emit("sync", true);
    expect(alice.doc.clientID).toBe(realId);
    expect(alice.doc.store.clients.has(0)).toBe(true);
    expect(alice.doc.store.clients.has(realId)).toBe(false);
  });

  it("does not bootstrap a document that already has content", async () => {
    const alice = openClient("Alice");
    alice.provider.events.emit("sync", true);
    alice.editor.update(
      () => {
        $getRoot().getFirstChildOrThrow().selectStart().insertText("hello");
      },
      { discrete: true },
    );
    const bob = openClient("Bob");
    Y.applyUpdate(bob.doc, Y.encodeStateAsUpdate(alice.doc), "remote");
    bob.provider.events.emit("sync", true);
    await Promise.resolve();
    expect(blockTypes(bob.editor)).toEqual(["paragraph"]);
    expect(bob.editor.getEditorState().read(() => $getRoot().getTextContent())).toBe("hello");
    expect(bob.doc.store.clients.has(bob.doc.clientID)).toBe(false);
  });

  it("the bootstrap paragraph cannot be undone", () => {
    const alice = openClient("Alice");
    alice.provider.events.emit("sync", true);
    expect(alice.bound.undoManager.undoStack).toHaveLength(0);
  });

  it("keeps the editor read-only until the first sync", () => {
    const alice = openClient("Alice");
    expect(alice.editor.isEditable()).toBe(false);
    alice.provider.events.emit("sync", true);
    expect(alice.editor.isEditable()).toBe(true);
  });
});

describe("read-only binding", () => {
  it("a read-only editor stays non-editable after the first sync and writes nothing", () => {
    const viewer = openClient("Viewer", { readOnly: true });
    expect(viewer.editor.isEditable()).toBe(false);
    viewer.provider.events.emit("sync", true);
    expect(viewer.editor.isEditable()).toBe(false);
    // No bootstrap paragraph: the viewer's doc holds nothing of its own.
    expect(viewer.doc.store.clients.size).toBe(0);

    const writer = openClient("Writer");
    writer.provider.events.emit("sync", true);
    expect(writer.editor.isEditable()).toBe(true);
  });
});

describe("deterministic initial content", () => {
  function openWithContent(name: string, input: InitialContentInput): Client {
    const doc = new Y.Doc();
    const editor = createEditor({
      namespace: "test",
      nodes: EDITOR_NODES,
      onError: (error) => {
        throw error;
      },
    });
    const provider = new FakeProvider(doc);
    const initialContent = toInitialContent(input);
    const bound = bindEditor({
      editor,
      provider: provider.asLexicalProvider(),
      doc,
      user: { name, color: "#000000" },
      ...(initialContent === undefined ? {} : { initialContent }),
    });
    const client = { doc, editor, provider, bound };
    clients.push(client);
    return client;
  }

  const text = (client: Client): string =>
    client.editor.getEditorState().read(() => $getRoot().getTextContent());

  it("two clients writing the same Markdown concurrently produce identical structs and one copy", async () => {
    const markdown = "# Welcome\n\nSome **bold** text.\n\n- one\n- two";
    const alice = openWithContent("Alice", { markdown });
    const bob = openWithContent("Bob", { markdown });
    alice.provider.events.emit("sync", true);
    bob.provider.events.emit("sync", true);
    expect(blockTypes(alice.editor)).toEqual(["heading", "paragraph", "list"]);
    expect(Y.encodeStateAsUpdate(alice.doc)).toEqual(Y.encodeStateAsUpdate(bob.doc));
    // Written under one fixed client id (not 0, not the real one), in one transaction.
    const ids = [...alice.doc.store.clients.keys()];
    expect(ids).toHaveLength(1);
    expect(ids[0]).toBe(bootstrapClientIdFor(toInitialContent({ markdown })));
    expect(ids[0]).not.toBe(alice.doc.clientID);

    exchange(alice.doc, bob.doc);
    await Promise.resolve();
    for (const client of [alice, bob]) {
      expect(blockTypes(client.editor)).toEqual(["heading", "paragraph", "list"]);
      expect(text(client)).toBe(text(alice));
    }
    expect(text(alice)).toContain("Welcome");
    expect(alice.bound.undoManager.undoStack).toHaveLength(0);
  });

  it("plain text becomes one paragraph per line, identical on both clients", async () => {
    const alice = openWithContent("Alice", "first\n\nthird");
    const bob = openWithContent("Bob", { text: "first\n\nthird" });
    alice.provider.events.emit("sync", true);
    bob.provider.events.emit("sync", true);
    expect(Y.encodeStateAsUpdate(alice.doc)).toEqual(Y.encodeStateAsUpdate(bob.doc));
    exchange(alice.doc, bob.doc);
    await Promise.resolve();
    expect(blockTypes(bob.editor)).toEqual(["paragraph", "paragraph", "paragraph"]);
    expect(text(bob)).toBe("first\n\n\n\nthird");
  });

  it("initial content is ignored when the document already has content", async () => {
    const alice = openClient("Alice");
    alice.provider.events.emit("sync", true);
    alice.editor.update(
      () => {
        $getRoot().getFirstChildOrThrow().selectStart().insertText("existing");
      },
      { discrete: true },
    );
    const bob = openWithContent("Bob", { markdown: "# Not me" });
    Y.applyUpdate(bob.doc, Y.encodeStateAsUpdate(alice.doc), "remote");
    bob.provider.events.emit("sync", true);
    await Promise.resolve();
    expect(text(bob)).toBe("existing");
    expect(blockTypes(bob.editor)).toEqual(["paragraph"]);
  });

  it("different content gets a different bootstrap client id, so it never collides", () => {
    const a = bootstrapClientIdFor(toInitialContent("a"));
    const b = bootstrapClientIdFor(toInitialContent("b"));
    const md = bootstrapClientIdFor(toInitialContent({ markdown: "a" }));
    expect(new Set([a, b, md, BOOTSTRAP_CLIENT_ID]).size).toBe(4);
  });
});
