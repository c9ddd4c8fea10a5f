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
import { $getRoot, type SerializedEditorState } from "lexical";
import type { CollabUser } from "./binding.ts";
import { type CowriteEditorEvents, createCollabEditor } from "./collab-editor.ts";
import { MARKDOWN_TRANSFORMERS } from "./editor.ts";
import { USER_COLORS } from "./identity.ts";
import { type InitialContentInput, toInitialContent } from "./initial-content.ts";
import { sharedConnectionFor } from "./page-connections.ts";
import type { PresenceUser } from "./presence.ts";
import type { ConnectionState, TokenSource } from "./provider.ts";
import type { ToolbarButtonName } from "./toolbar.ts";

export type {
  ConnectionState,
  CowriteEditorEvents,
  InitialContentInput,
  PresenceUser,
  TokenSource,
  ToolbarButtonName,
};

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
  /**
   * Keep a copy of the document in this browser (IndexedDB) for this user:
   * it opens at once from the copy, and edits made offline survive a reload
   * and sync later. Pass an id that is the same on every visit and differs
   * between the people sharing a browser (your app's user id). Default: no copy.
   */
  localCopyUser?: string;
  /** CSS custom properties set on the editor's root element, e.g. {"--cowrite-accent": "#0a7"}. */
  theme?: Record<string, string>;
  /**
   * Share one connection with the other editors on this page that talk to
   * the same server (default true): a page with several editors opens one
   * WebSocket. false: this editor gets a socket of its own.
   */
  sharedConnection?: boolean;
  /** For tests: a WebSocket implementation (the editor then gets a socket of its own). */
  WebSocketImpl?: new (
    url: string,
  ) => WebSocket;
}

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
  const initialContent = toInitialContent(options.initialContent);
  const wsUrl = toWebSocketUrl(options.serverUrl);
  const collab = createCollabEditor({
    url: wsUrl,
    docId: options.docId,
    user,
    readOnly,
    toolbar: options.toolbar ?? true,
    ownerDocument: host.ownerDocument,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.placeholder === undefined ? {} : { placeholder: options.placeholder }),
    ...(options.localCopyUser === undefined ? {} : { localCopyUser: options.localCopyUser }),
    ...(initialContent === undefined ? {} : { initialContent }),
    WebSocketImpl:
      options.WebSocketImpl ??
      (options.sharedConnection === false
        ? undefined
        : sharedConnectionFor(host.ownerDocument, wsUrl).WebSocketImpl),
  });
  const { editor } = collab;

  // The frame (border, padding, background) is the embed's own; the app
  // page lays out the same parts without it.
  const root = host.ownerDocument.createElement("div");
  root.className = "cowrite-editor cowrite-frame";
  root.dataset.docId = options.docId;
  if (readOnly) root.dataset.readonly = "true";
  for (const [name, value] of Object.entries(options.theme ?? {})) {
    if (name.startsWith("--")) root.style.setProperty(name, value);
  }
  if (collab.toolbar !== null) root.append(collab.toolbar);
  root.append(collab.body);
  host.append(root);

  // Subscribed before the host's listeners, so they see the root updated.
  collab.on("status", (state) => {
    root.dataset.status = state.status;
  });
  collab.on("synced", (isSynced) => {
    root.dataset.synced = String(isSynced);
  });
  root.dataset.status = collab.status.status;

  let destroyed = false;
  const read = <T>(fn: () => T): T => editor.read(fn);

  return {
    element: root,
    docId: options.docId,
    get status() {
      return collab.status;
    },
    get synced() {
      return collab.synced;
    },
    on: (event, listener) => collab.on(event, listener),
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
      collab.destroy();
      root.remove();
    },
  };
}
