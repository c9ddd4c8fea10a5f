/**
 * One collaborative editor, wired: a Y.Doc and its CowriteProvider, the
 * Lexical editor bound to them, the toolbar, the placeholder and the remote
 * carets. The app's document page and the embeddable `createEditor` both
 * build on it and differ only in where they put the parts.
 *
 * Contract:
 * - `createCollabEditor` returns the parts (`toolbar`, `body`) detached; the
 *   caller appends them in the same task, inside an element with the
 *   `cowrite-editor` class, which scopes editor.css.
 * - It connects at once; the provider's listeners are in place before, so
 *   no status or first sync is missed.
 * - `destroy()` frees what it made: socket, doc, editor, listeners and the
 *   parts' DOM. It is idempotent.
 * - With `localCopyUser`, the document is also kept on this device
 *   (local-copy.ts): it opens from that copy, and a copy that has synced
 *   before makes the editor editable without waiting for the server, so
 *   someone offline can reload and go on writing. A server that says the
 *   document is gone, or that this user may no longer open it, clears it.
 * - The user's colour is a preference: when someone present shows the same
 *   or a similar one, the rule in user-color.ts may publish another.
 */
import "./editor.css";
import { CLOSE_FORBIDDEN, CLOSE_NO_DOCUMENT, CLOSE_NORMAL } from "@cowrite/shared";
import type { Provider } from "@lexical/yjs";
import { $getRoot, $isParagraphNode, type LexicalEditor } from "lexical";
import * as Y from "yjs";
import { bindEditor, type CollabUser, type InitialContent } from "./binding.ts";
import { createCowriteEditor, registerEditorFeatures } from "./editor.ts";
import { Emitter } from "./emitter.ts";
import { type LocalCopy, localCopyName, openLocalCopy } from "./local-copy.ts";
import { listPresentUsers, type PresenceUser } from "./presence.ts";
import { type ConnectionState, CowriteProvider, type TokenSource } from "./provider.ts";
import { createToolbar, type ToolbarButtonName } from "./toolbar.ts";
import { type ColorHolder, pickDistinctColor } from "./user-color.ts";

export interface CollabEditorOptions {
  /** WebSocket base URL, e.g. "wss://docs.example.com/ws". */
  url: string;
  docId: string;
  token?: TokenSource;
  user: CollabUser;
  /** View only: the editor never becomes editable and writes nothing. */
  readOnly?: boolean;
  /** true (default) for every button, false for none, or the button names to show. */
  toolbar?: boolean | readonly ToolbarButtonName[];
  /** Shown while the document is empty. Default "Start writing…". */
  placeholder?: string;
  /** Content of a brand-new document. */
  initialContent?: InitialContent;
  /**
   * Keep a copy of the document on this device for this user (an id that
   * is the same every visit, e.g. the token's subject). Absent: no copy.
   */
  localCopyUser?: string;
  /** The document the parts are created in (an embed's host may be in an iframe). */
  ownerDocument?: Document;
  WebSocketImpl?: new (url: string) => WebSocket;
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

export interface CollabEditor {
  readonly doc: Y.Doc;
  readonly provider: CowriteProvider;
  readonly editor: LexicalEditor;
  /** The copy on this device, or null without `localCopyUser`. */
  readonly localCopy: LocalCopy | null;
  /** The toolbar, or null with `toolbar: false`. */
  readonly toolbar: HTMLElement | null;
  /** The editing area: content, placeholder and carets in a positioned wrapper. */
  readonly body: HTMLElement;
  /** The contenteditable. */
  readonly content: HTMLElement;
  readonly status: ConnectionState;
  readonly synced: boolean;
  on<K extends keyof CowriteEditorEvents>(event: K, listener: CowriteEditorEvents[K]): () => void;
  /** Changes the name and colour others see. */
  setUser(user: CollabUser): void;
  destroy(): void;
}

export function createCollabEditor(options: CollabEditorOptions): CollabEditor {
  const readOnly = options.readOnly ?? false;
  const ownerDocument = options.ownerDocument ?? document;
  const events = new Emitter<CowriteEditorEvents>();

  const doc = new Y.Doc();
  // Opened first, so that it records every update, the first sync's included.
  const localCopy =
    options.localCopyUser === undefined
      ? null
      : openLocalCopy({
          doc,
          name: localCopyName(options.url, options.localCopyUser, options.docId),
        });
  // Not connected yet: bindEditor connects once its listeners are in place.
  const provider = new CowriteProvider({
    url: options.url,
    docId: options.docId,
    doc,
    connect: false,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.WebSocketImpl === undefined ? {} : { WebSocketImpl: options.WebSocketImpl }),
  });

  // ---- DOM ----
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
  const body = ownerDocument.createElement("div");
  body.className = "editor-wrapper is-loading";
  body.append(content, placeholder, cursors);

  const editor = createCowriteEditor((error) => {
    console.error("[cowrite] editor error", error);
  });
  const toolbarOption = options.toolbar ?? true;
  const toolbar =
    toolbarOption === false
      ? null
      : createToolbar(editor, toolbarOption === true ? {} : { buttons: toolbarOption });

  // ---- editor ----
  editor.setRootElement(content);
  const unregisterFeatures = registerEditorFeatures(editor);
  let hasSynced = false;
  const renderPlaceholder = (): void => {
    const isEmpty = editor.read(() => {
      const root = $getRoot();
      const first = root.getFirstChild();
      return (
        root.getChildrenSize() <= 1 &&
        (first === null || $isParagraphNode(first)) &&
        root.getTextContent() === ""
      );
    });
    placeholder.hidden = !isEmpty || !editor.isEditable();
  };
  const unregisterUpdates = editor.registerUpdateListener(({ dirtyElements, dirtyLeaves }) => {
    renderPlaceholder();
    if (dirtyElements.size > 0 || dirtyLeaves.size > 0) events.emit("change");
  });
  // Loading ends when the editor becomes editable, or for a viewer (never
  // editable) at the first sync.
  const renderLoading = (): void => {
    body.classList.toggle("is-loading", !(editor.isEditable() || (readOnly && hasSynced)));
    renderPlaceholder();
  };
  const unregisterEditable = editor.registerEditableListener(renderLoading);

  // ---- provider events ----
  const onConnection = (state: ConnectionState): void => {
    // Stopped by the server (document deleted, access revoked...): nothing
    // typed from now on could reach it, so take no more typing. A disconnect
    // asked for here (CLOSE_NORMAL) keeps the editor: edits sync on connect().
    if (state.status === "stopped" && state.code !== CLOSE_NORMAL) editor.setEditable(false);
    if (state.status === "stopped" && forgetsLocalCopy.has(state.code)) void localCopy?.clear();
    events.emit("status", state);
  };
  const onSync = (isSynced: boolean): void => {
    if (isSynced) localCopy?.markSynced();
    hasSynced ||= isSynced;
    renderLoading();
    events.emit("synced", isSynced);
  };
  const onPresence = (): void => {
    events.emit("presence", listPresentUsers(provider.awareness));
  };
  provider.on("connection", onConnection);
  provider.on("sync", onSync);
  provider.awareness.on("change", onPresence);

  const collab = bindEditor({
    editor,
    // y-protocols types awareness states as `{[key: string]: any}`, which
    // TypeScript will not match to Lexical's UserState; the object is the same.
    provider: provider as unknown as Provider,
    doc,
    user: options.user,
    cursorsContainer: cursors,
    readOnly,
    ...(options.initialContent === undefined ? {} : { initialContent: options.initialContent }),
  });

  // ---- distinct colours among the people present ----
  let preferredUser = options.user;
  let publishedColor = options.user.color;
  const publishDistinctColor = (): void => {
    const { awareness } = provider;
    const others: ColorHolder[] = [];
    for (const [clientId, state] of awareness.getStates()) {
      if (clientId !== awareness.clientID && typeof state.color === "string") {
        others.push({ clientId, color: state.color });
      }
    }
    const color = pickDistinctColor({
      current: publishedColor,
      preferred: preferredUser.color,
      selfId: awareness.clientID,
      others,
    });
    if (color === publishedColor) return;
    publishedColor = color;
    collab.setUser({ ...preferredUser, color });
  };
  provider.awareness.on("change", publishDistinctColor);

  let destroyed = false;
  // A copy that synced before holds the document as it was: a base to write
  // on while the server is out of reach. (A fresh copy does not: typing into
  // it would put a second first paragraph beside the server's.)
  void localCopy?.loaded.then((syncedBefore) => {
    if (!syncedBefore || destroyed || readOnly || editor.isEditable()) return;
    if (provider.connection.status === "stopped") return;
    editor.setEditable(true);
  });
  return {
    doc,
    provider,
    editor,
    localCopy,
    toolbar: toolbar?.element ?? null,
    body,
    content,
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
    setUser(user) {
      // A new name keeps the colour published for this document; a new colour replaces it.
      if (user.color !== preferredUser.color) publishedColor = user.color;
      preferredUser = user;
      collab.setUser({ ...user, color: publishedColor });
      publishDistinctColor();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      provider.off("connection", onConnection);
      provider.off("sync", onSync);
      provider.awareness.off("change", onPresence);
      provider.awareness.off("change", publishDistinctColor);
      collab.destroy();
      unregisterEditable();
      unregisterUpdates();
      unregisterFeatures();
      toolbar?.destroy();
      editor.setRootElement(null);
      provider.destroy();
      localCopy?.destroy();
      doc.destroy();
      events.clear();
      body.remove();
    },
  };
}

/**
 * Close codes after which the copy on this device is deleted: the document
 * is gone, or this user may no longer open it. Not 4401: an expired or
 * unreadable token says nothing about the user's rights, and the copy may
 * hold edits that a fresh link will still deliver.
 */
const forgetsLocalCopy = new Set([CLOSE_NO_DOCUMENT, CLOSE_FORBIDDEN]);
