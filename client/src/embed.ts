/**
 * The embeddable editor: `createEditor(element, options)` mounts one
 * collaborative Cowrite editor into a host page's element and returns a
 * handle.
 *
 * Contract:
 * - Each editor owns one Y.Doc and one CowriteProvider, so any number of
 *   editors on one page, on the same or different documents, are
 *   independent.
 * - The WebSocket URL is derived from `serverUrl` (http -> ws, https -> wss,
 *   plus "/ws").
 * - `destroy()` frees everything it made: socket, listeners, timers and the
 *   DOM it appended; the host element itself is left in place.
 * - Reads (`getJSON`, `getText`, `getMarkdown`, `getHTML`) reflect the
 *   editor's current state; there is no write API besides the editor itself.
 */
import { $generateHtmlFromNodes } from "@lexical/html";
import { $convertToMarkdownString } from "@lexical/markdown";
import type { Provider } from "@lexical/yjs";
import { $getRoot, $isParagraphNode, type SerializedEditorState } from "lexical";
import * as Y from "yjs";
import { bindEditor, type CollabUser } from "./binding.ts";
import { createCowriteEditor, MARKDOWN_TRANSFORMERS, registerEditorFeatures } from "./editor.ts";
import { Emitter } from "./emitter.ts";
import { USER_COLORS } from "./identity.ts";
import { type InitialContentInput, toInitialContent } from "./initial-content.ts";
import { listPresentUsers, type PresenceUser } from "./presence.ts";
import { type ConnectionState, CowriteProvider, type TokenSource } from "./provider.ts";
import { createToolbar, type ToolbarButtonName } from "./toolbar.ts";

export type { ConnectionState, InitialContentInput, PresenceUser, TokenSource, ToolbarButtonName };

export interface CowriteEditorOptions {
  /** http(s) base URL of the Cowrite server, e.g. "https://docs.example.com". */
  serverUrl: string;
  docId: string;
  /** An access token, or a function returning a fresh one before every (re)connect. */
  token?: TokenSource;
  /** Name and caret colour shown to others; default a guest name and a palette colour. */
  user?: Partial<CollabUser>;
  /** View only: nothing typed is written (the server also enforces read tokens). */
  readOnly?: boolean;
  /** true (default) for every button, false for none, or the button names to show. */
  toolbar?: boolean | readonly ToolbarButtonName[];
  /** Shown while the document is empty. Default "Start writing…". */
  placeholder?: string;
  /** Content of a brand-new document: plain text (a line per paragraph) or `{markdown}`. */
  initialContent?: InitialContentInput;
  /** CSS custom properties set on the editor's root element, e.g. {"--cowrite-accent": "#0a7"}. */
  theme?: Record<string, string>;
  /** For tests: a WebSocket implementation. */
  WebSocketImpl?: new (
    url: string,
  ) => WebSocket;
}

export type CowriteEditorEvents = {
  /** Connection state changes (connecting, connected, reconnecting, offline, stopped). */
  status: (state: ConnectionState) => void;
  /** True once the first sync with the server is done (again after each reconnect). */
  synced: (isSynced: boolean) => void;
  /** The people in the document, self first. */
  presence: (users: PresenceUser[]) => void;
  /** The content changed (locally or remotely). */
  change: () => void;
};

export interface CowriteEditorHandle {
  /** The root element the editor appended into the host element. */
  readonly element: HTMLElement;
  readonly docId: string;
  readonly status: ConnectionState;
  readonly synced: boolean;
  on<K extends keyof CowriteEditorEvents>(event: K, listener: CowriteEditorEvents[K]): () => void;
  focus(): void;
  getJSON(): SerializedEditorState;
  getText(): string;
  getMarkdown(): string;
  getHTML(): string;
  destroy(): void;
}

/** "http://host/base" -> "ws://host/base/ws"; "https:" -> "wss:". */
export function toWebSocketUrl(serverUrl: string): string {
  const url = new URL(serverUrl, globalThis.location?.href);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`serverUrl must be an http(s) URL, got ${serverUrl}`);
  }
  url.search = "";
  url.hash = "";
  return `${url.href.replace(/\/+$/, "")}/ws`;
}

export function createEditor(
  host: HTMLElement,
  options: CowriteEditorOptions,
): CowriteEditorHandle {
  if (!options.docId) throw new TypeError("createEditor: docId is required");
  const readOnly = options.readOnly ?? false;
  const user: CollabUser = {
    name: options.user?.name || `Guest ${1000 + Math.floor(Math.random() * 9000)}`,
    color:
      options.user?.color ||
      (USER_COLORS[Math.floor(Math.random() * USER_COLORS.length)] ?? USER_COLORS[0]),
  };
  const events = new Emitter<CowriteEditorEvents>();

  const doc = new Y.Doc();
  const provider = new CowriteProvider({
    url: toWebSocketUrl(options.serverUrl),
    docId: options.docId,
    doc,
    connect: false,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.WebSocketImpl === undefined ? {} : { WebSocketImpl: options.WebSocketImpl }),
  });

  // ---- DOM ----
  const ownerDocument = host.ownerDocument;
  const root = ownerDocument.createElement("div");
  root.className = "cowrite-editor";
  root.dataset.docId = options.docId;
  if (readOnly) root.dataset.readonly = "true";
  for (const [name, value] of Object.entries(options.theme ?? {})) {
    if (name.startsWith("--")) root.style.setProperty(name, value);
  }
  const content = ownerDocument.createElement("div");
  content.className = "cowrite-content";
  content.dataset.testid = "cowrite-content";
  content.setAttribute("role", "textbox");
  content.setAttribute("aria-multiline", "true");
  content.setAttribute("aria-label", "Document body");
  content.spellcheck = true;
  const placeholder = ownerDocument.createElement("div");
  placeholder.className = "editor-placeholder";
  placeholder.setAttribute("aria-hidden", "true");
  placeholder.textContent = options.placeholder ?? "Start writing…";
  placeholder.hidden = true;
  const cursors = ownerDocument.createElement("div");
  cursors.className = "cursors";
  const wrapper = ownerDocument.createElement("div");
  wrapper.className = "editor-wrapper is-loading";
  wrapper.append(content, placeholder, cursors);

  const editor = createCowriteEditor((error) => {
    console.error("[cowrite] editor error", error);
  });
  const toolbarOption = options.toolbar ?? true;
  const toolbar =
    toolbarOption === false
      ? null
      : createToolbar(editor, toolbarOption === true ? {} : { buttons: toolbarOption });
  if (toolbar !== null) root.append(toolbar.element);
  root.append(wrapper);
  host.append(root);

  // ---- editor ----
  editor.setRootElement(content);
  const unregisterFeatures = registerEditorFeatures(editor);
  let hasSynced = false;
  const renderPlaceholder = (): void => {
    const isEmpty = editor.read(() => {
      const rootNode = $getRoot();
      const first = rootNode.getFirstChild();
      return (
        rootNode.getChildrenSize() <= 1 &&
        (first === null || $isParagraphNode(first)) &&
        rootNode.getTextContent() === ""
      );
    });
    placeholder.hidden = !isEmpty || !editor.isEditable();
  };
  const unregisterUpdates = editor.registerUpdateListener(({ dirtyElements, dirtyLeaves }) => {
    renderPlaceholder();
    if (dirtyElements.size > 0 || dirtyLeaves.size > 0) events.emit("change");
  });
  const renderLoading = (): void => {
    wrapper.classList.toggle("is-loading", !(editor.isEditable() || (readOnly && hasSynced)));
    renderPlaceholder();
  };
  const unregisterEditable = editor.registerEditableListener(renderLoading);

  // ---- provider events ----
  const onConnection = (state: ConnectionState): void => {
    root.dataset.status = state.status;
    events.emit("status", state);
  };
  const onSync = (isSynced: boolean): void => {
    hasSynced ||= isSynced;
    root.dataset.synced = String(isSynced);
    renderLoading();
    events.emit("synced", isSynced);
  };
  const onPresence = (): void => {
    events.emit("presence", listPresentUsers(provider.awareness));
  };
  provider.on("connection", onConnection);
  provider.on("sync", onSync);
  provider.awareness.on("change", onPresence);

  const initialContent = toInitialContent(options.initialContent);
  const collab = bindEditor({
    editor,
    // y-protocols' Awareness typing is looser than Lexical's; the object is the same.
    provider: provider as unknown as Provider,
    doc,
    user,
    cursorsContainer: cursors,
    readOnly,
    ...(initialContent === undefined ? {} : { initialContent }),
  });
  onConnection(provider.connection);

  let destroyed = false;
  const read = <T>(fn: () => T): T => editor.read(fn);

  return {
    element: root,
    docId: options.docId,
    get status() {
      return provider.connection;
    },
    get synced() {
      return provider.synced;
    },
    on(event, listener) {
      events.on(event, listener);
      return () => events.off(event, listener);
    },
    focus() {
      if (!destroyed) editor.focus();
    },
    getJSON: () => editor.getEditorState().toJSON(),
    getText: () => read(() => $getRoot().getTextContent()),
    getMarkdown: () => read(() => $convertToMarkdownString(MARKDOWN_TRANSFORMERS)),
    getHTML: () => read(() => $generateHtmlFromNodes(editor, null)),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      provider.off("connection", onConnection);
      provider.off("sync", onSync);
      provider.awareness.off("change", onPresence);
      collab.destroy();
      unregisterEditable();
      unregisterUpdates();
      unregisterFeatures();
      toolbar?.destroy();
      editor.setRootElement(null);
      provider.destroy();
      doc.destroy();
      events.clear();
      root.remove();
    },
  };
}
