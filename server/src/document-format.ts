/**
 * Documents as files: export a stored document as Markdown, HTML, plain
 * text or Lexical JSON, and turn Markdown, HTML or text into the content of
 * a new document.
 *
 * Contract: both directions go through a headless Lexical editor with the
 * editor's own nodes (client/src/editor-nodes.ts), bound to a Y.Doc by
 * @lexical/yjs exactly as a browser's editor is (client/src/binding.ts).
 * So an export reads the document as an editor would show it, and an
 * import is an update of the very Yjs shape a client writes: top-level
 * Y.XmlText CONTENT_FIELD, title in the Y.Text TITLE_FIELD.
 *
 * Lexical's DOM code (HTML in and out) needs `window` and `document`; a
 * server has neither. One jsdom window, made on first use, is installed as
 * those globals only for the length of one synchronous conversion and
 * removed again, so nothing else in the process ever sees them.
 */
import {
  CONTENT_FIELD,
  type ExportFormat,
  type ImportContent,
  TITLE_FIELD,
  TITLE_MAX_LENGTH,
} from "@cowrite/shared";
import { $generateHtmlFromNodes, $generateNodesFromDOM } from "@lexical/html";
import { $convertFromMarkdownString, $convertToMarkdownString } from "@lexical/markdown";
import { $isHeadingNode } from "@lexical/rich-text";
import {
  createYjsBinding,
  type Provider,
  syncLexicalUpdateToYjs,
  syncYjsChangesToLexical,
} from "@lexical/yjs";
import { JSDOM } from "jsdom";
import {
  $createParagraphNode,
  $createTextNode,
  $getRoot,
  $isDecoratorNode,
  $isElementNode,
  createEditor,
  type LexicalEditor,
  type LexicalNode,
  type ParagraphNode,
} from "lexical";
import * as Y from "yjs";
import { EDITOR_NODES, MARKDOWN_TRANSFORMERS } from "../../client/src/editor-nodes.ts";

export interface ExportedFile {
  body: string;
  /** Content-Type, charset included. */
  contentType: string;
  /** File name extension, without the dot. */
  extension: string;
}

export interface ImportedContent {
  /** A Yjs update that writes the content into an empty document. */
  update: Uint8Array;
  /** Text of the first heading, if any (at most TITLE_MAX_LENGTH): a title for an untitled import. */
  heading: string | null;
}

export interface DocumentFormats {
  /** Renders `state` (a Yjs update holding the whole document) as a file. */
  exportDocument(state: Uint8Array, format: ExportFormat): ExportedFile;
  /** Converts `content` into the Yjs shape of a document's body. */
  importContent(content: ImportContent): ImportedContent;
}

/** HTML elements an import drops with everything inside them. */
const DROPPED_ELEMENTS = "script, style, noscript, template, iframe, object, embed, link, meta";

export function createDocumentFormats(): DocumentFormats {
  let window: JSDOM["window"] | null = null;
  /** Runs `convert` with jsdom's window and document as the globals Lexical's DOM code reads. */
  const withDom = <T>(convert: (window: JSDOM["window"]) => T): T => {
    window ??= new JSDOM("<!DOCTYPE html>").window;
    const globals = globalThis as { window?: unknown; document?: unknown };
    const saved = { window: globals.window, document: globals.document };
    globals.window = window;
    globals.document = window.document;
    try {
      return convert(window);
    } finally {
      restoreGlobal(globals, "window", saved.window);
      restoreGlobal(globals, "document", saved.document);
    }
  };

  return {
    exportDocument(state, format) {
      const { editor, title } = loadEditor(state);
      switch (format) {
        case "markdown":
          return {
            body: withTrailingNewline(
              editor.read(() => $convertToMarkdownString(MARKDOWN_TRANSFORMERS)),
            ),
            contentType: "text/markdown; charset=utf-8",
            extension: "md",
          };
        case "html": {
          const body = withDom(() => editor.read(() => $generateHtmlFromNodes(editor)));
          return {
            body:
              '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n' +
              `<title>${escapeHtml(title)}</title>\n</head>\n<body>\n${body}\n</body>\n</html>\n`,
            contentType: "text/html; charset=utf-8",
            extension: "html",
          };
        }
        case "text": {
          const text = editor.read(() => $getRoot().getTextContent());
          return {
            body: withTrailingNewline(title === "" ? text : `${title}\n\n${text}`),
            contentType: "text/plain; charset=utf-8",
            extension: "txt",
          };
        }
        case "json":
          return {
            body: JSON.stringify({
              title,
              editorState: editor.read(() => editor.getEditorState().toJSON()),
            }),
            contentType: "application/json; charset=utf-8",
            extension: "json",
          };
      }
    },

    importContent({ format, text }) {
      const doc = new Y.Doc();
      const editor = createHeadlessEditor();
      const binding = bindContent(editor, doc);
      const stopSync = editor.registerUpdateListener((update) => {
        syncLexicalUpdateToYjs(
          binding,
          NO_PROVIDER,
          update.prevEditorState,
          update.editorState,
          update.dirtyElements,
          update.dirtyLeaves,
          update.normalizedNodes,
          update.tags,
        );
      });
      const write = () => {
        if (format === "markdown") $convertFromMarkdownString(text, MARKDOWN_TRANSFORMERS);
        else if (format === "text") $writePlainText(text);
        else withDom((window) => $writeHtml(editor, window, text));
        // Never an empty root: a client opening it would add its own first paragraph.
        if ($getRoot().isEmpty()) $getRoot().append($createParagraphNode());
      };
      try {
        // Discrete: committed, and so written to the Y.Doc, before update() returns.
        editor.update(write, { discrete: true });
      } finally {
        stopSync();
      }
      const heading = editor.read(() => {
        const first = $getRoot().getChildren().find($isHeadingNode);
        const words = first?.getTextContent().replace(/\s+/g, " ").trim() ?? "";
        return words === "" ? null : words.slice(0, TITLE_MAX_LENGTH);
      });
      const update = Y.encodeStateAsUpdate(doc);
      doc.destroy();
      return { update, heading };
    },
  };
}

/** The file name for a download of `name`, as a Content-Disposition value (RFC 6266, RFC 5987). */
export function attachmentDisposition(name: string, extension: string): string {
  const cleaned =
    name
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
      .replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, " ")
      .replace(/\s+/g, " ")
      .trim()
      .replace(/^\.+/, "")
      .slice(0, 100)
      .trim() || "document";
  const fileName = `${cleaned}.${extension}`;
  const ascii = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/[%;]/g, "_");
  if (ascii === fileName) return `attachment; filename="${fileName}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(fileName)}`;
}

/** A provider that is not there: conversions have no awareness and no carets. */
const noop = () => {};
export const NO_PROVIDER: Provider = {
  awareness: {
    getLocalState: () => null,
    getStates: () => new Map(),
    on: noop,
    off: noop,
    setLocalState: noop,
    setLocalStateField: noop,
  },
  connect: noop,
  disconnect: noop,
  on: noop,
  off: noop,
};

/** The editor bound to the document's content, as the client binds it (binding.ts). */
function bindContent(editor: LexicalEditor, doc: Y.Doc) {
  return createYjsBinding({
    editor,
    id: CONTENT_FIELD,
    doc,
    docMap: new Map([[CONTENT_FIELD, doc]]),
    rootName: CONTENT_FIELD,
  });
}

function createHeadlessEditor(): LexicalEditor {
  return createEditor({
    namespace: "cowrite-server",
    nodes: EDITOR_NODES,
    onError: (error) => {
      throw error;
    },
  });
}

/** A headless editor showing the document in `state`, and its title. */
function loadEditor(state: Uint8Array): { editor: LexicalEditor; title: string } {
  const doc = new Y.Doc();
  const editor = createHeadlessEditor();
  const binding = bindContent(editor, doc);
  // Loading the state into an empty doc is one change from nothing to all
  // of it: the events a client's editor gets on its first sync.
  const sharedRoot = binding.root.getSharedType();
  // biome-ignore lint/suspicious/noExplicitAny: Yjs types observeDeep events as YEvent<any>
  const onChanges = (events: Y.YEvent<any>[]) => {
    syncYjsChangesToLexical(binding, NO_PROVIDER, events, false, noop);
  };
  sharedRoot.observeDeep(onChanges);
  try {
    Y.applyUpdate(doc, state);
    // Commits the update the events queued.
    editor.update(noop, { discrete: true });
  } finally {
    sharedRoot.unobserveDeep(onChanges);
  }
  const title = doc.getText(TITLE_FIELD).toString().trim();
  doc.destroy();
  return { editor, title };
}

/** One paragraph per line. */
function $writePlainText(text: string): void {
  const root = $getRoot();
  for (const line of text.split(/\r?\n/)) {
    const paragraph = $createParagraphNode();
    if (line !== "") paragraph.append($createTextNode(line));
    root.append(paragraph);
  }
}

function $writeHtml(editor: LexicalEditor, window: JSDOM["window"], html: string): void {
  // jsdom runs no scripts and loads nothing unless asked to; the dropped
  // elements go anyway, so their text does not turn up as content.
  const parsed = new window.DOMParser().parseFromString(html, "text/html");
  for (const element of parsed.querySelectorAll(DROPPED_ELEMENTS)) element.remove();
  const root = $getRoot();
  // Text and inline nodes at the top level go into paragraphs: the root holds only blocks.
  let paragraph: ParagraphNode | null = null;
  for (const node of $generateNodesFromDOM(editor, parsed)) {
    if (isBlock(node)) {
      paragraph = null;
      root.append(node);
    } else {
      if (paragraph === null) {
        paragraph = $createParagraphNode();
        root.append(paragraph);
      }
      paragraph.append(node);
    }
  }
}

function isBlock(node: LexicalNode): boolean {
  return ($isElementNode(node) || $isDecoratorNode(node)) && !node.isInline();
}

function restoreGlobal(globals: Record<string, unknown>, name: string, value: unknown): void {
  if (value === undefined) delete globals[name];
  else globals[name] = value;
}

function withTrailingNewline(text: string): string {
  return text.endsWith("\n") || text === "" ? text : `${text}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function encodeRfc5987(text: string): string {
  return encodeURIComponent(text).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
