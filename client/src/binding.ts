/**
 * Lexical <-> Y.Doc wiring without React.
 *
 * Contract: `bindEditor` connects one Lexical editor to the Lexical content
 * of one Y.Doc (the top-level `Y.XmlText` named "root") through a provider
 * that fulfils @lexical/yjs's `Provider` interface. It mirrors
 * @lexical/react 0.52's CollaborationPlugin / useYjsCollaboration:
 *
 * - Yjs -> Lexical: `observeDeep` on the shared root, skipping transactions
 *   whose origin is the binding (those came from this editor).
 * - Lexical -> Yjs: an update listener, skipping updates tagged SKIP_COLLAB.
 * - Presence: awareness local state (name, colour, focus, caret), remote
 *   carets rendered into `cursorsContainer`.
 * - Undo: a Yjs UndoManager scoped to the shared root that tracks only this
 *   binding's transactions, so undo never reverts other people's edits, and
 *   never deletes a paragraph we made that someone else has written in.
 * - Bootstrap: an empty document gets its first paragraph (or the caller's
 *   initial content) deterministically, so concurrent first visitors do not
 *   produce two copies.
 *
 * Origins: the binding object itself is the origin of every Lexical -> Yjs
 * transaction (set by @lexical/yjs); the UndoManager is the origin of undo
 * and redo transactions; the provider is the origin of remote updates.
 *
 * The provider's lifetime belongs to the caller: `destroy()` unbinds but
 * does not disconnect it.
 */
import { CONTENT_FIELD } from "@cowrite/shared";
import {
  type Binding,
  CONNECTED_COMMAND,
  createYjsBinding,
  initLocalState,
  type Provider,
  setLocalStateFocus,
  syncCursorPositions,
  syncLexicalUpdateToYjs,
  syncYjsChangesToLexical,
  TOGGLE_CONNECT_COMMAND,
  type UserState,
} from "@lexical/yjs";
import {
  $createParagraphNode,
  $getRoot,
  BLUR_COMMAND,
  CAN_REDO_COMMAND,
  CAN_UNDO_COMMAND,
  COMMAND_PRIORITY_EDITOR,
  FOCUS_COMMAND,
  HISTORY_MERGE_TAG,
  type LexicalEditor,
  mergeRegister,
  REDO_COMMAND,
  SKIP_COLLAB_TAG,
  UNDO_COMMAND,
} from "lexical";
import * as Y from "yjs";

/** Yjs client id used for the deterministic first paragraph (see `bootstrapEmptyDocument`). */
export const BOOTSTRAP_CLIENT_ID = 0;
/** The binding id and the name of the top-level Y.XmlText holding the content. */
export const CONTENT_ROOT = CONTENT_FIELD;

export interface CollabUser {
  name: string;
  color: string;
}

export interface BindEditorOptions {
  editor: LexicalEditor;
  /** Any @lexical/yjs provider; a `CowriteProvider` in the app. */
  provider: Provider;
  doc: Y.Doc;
  user: CollabUser;
  /** Element remote carets are rendered into; it must sit inside a positioned ancestor. */
  cursorsContainer?: HTMLElement | null;
  /** Whether the provider already reported `sync` before binding (then bootstrap runs at once). */
  isSynced?: boolean;
  /**
   * Keep the editor read-only until the first sync (default true). Typing
   * into a not-yet-synced editor would create a paragraph that then merges
   * with the server's content as an extra block.
   */
  readOnlyUntilSynced?: boolean;
  /**
   * A viewer (default false): the editor stays non-editable for good, even
   * after the first sync, and the binding writes nothing (no bootstrap
   * paragraph). The server drops a read-only peer's updates anyway; this
   * keeps the viewer's screen from showing edits nobody else will see.
   */
  readOnly?: boolean;
  /** What a brand-new document starts with instead of one empty paragraph. */
  initialContent?: InitialContent;
}

/**
 * Content written into a brand-new document by `bootstrapEmptyDocument`.
 * `write` must be deterministic: the same `key` must always produce the
 * same nodes, because the key picks the Yjs client id the write is made
 * under (see `bootstrapClientIdFor`).
 */
export interface InitialContent {
  key: string;
  /** Fills the empty root; runs inside an editor update. */
  write: () => void;
}

export interface EditorBinding {
  readonly binding: Binding;
  readonly undoManager: Y.UndoManager;
  /** Changes the name/colour shown to peers (and on our caret for them). */
  setUser(user: CollabUser): void;
  destroy(): void;
}

export function bindEditor(options: BindEditorOptions): EditorBinding {
  const { editor, provider, doc } = options;
  let user = options.user;
  const binding = createYjsBinding({
    editor,
    id: CONTENT_ROOT,
    doc,
    docMap: new Map([[CONTENT_ROOT, doc]]),
    rootName: CONTENT_ROOT,
  });
  binding.cursorsContainer = options.cursorsContainer ?? null;
  const sharedRoot = binding.root.getSharedType();
  // As @lexical/yjs's createUndoManager, plus a delete filter: undoing an
  // insertion never deletes a container (a paragraph, a list item...) that
  // others have written into since, so undo takes back only our own text.
  const undoManager = new Y.UndoManager(sharedRoot, {
    // Bootstrapping the first paragraph is not a user's edit.
    captureTransaction: () => !binding.isBootstrapping,
    trackedOrigins: new Set([binding, null]),
    deleteFilter: (item) => !holdsOthersContent(item, doc.clientID),
  });

  // --- content sync, both directions ---
  // Both directions publish the local caret; see leftAnchoredCaret.
  const caretProvider = leftAnchoredCaret(provider, doc);
  // biome-ignore lint/suspicious/noExplicitAny: Yjs types observeDeep events as YEvent<any>
  const onYjsTreeChanges = (events: Y.YEvent<any>[], transaction: Y.Transaction): void => {
    if (transaction.origin === binding) return;
    const fromUndo = transaction.origin instanceof Y.UndoManager;
    syncYjsChangesToLexical(binding, caretProvider, events, fromUndo);
  };
  sharedRoot.observeDeep(onYjsTreeChanges);

  const removeUpdateListener = editor.registerUpdateListener(
    ({ prevEditorState, editorState, dirtyElements, dirtyLeaves, normalizedNodes, tags }) => {
      if (tags.has(SKIP_COLLAB_TAG)) return;
      syncLexicalUpdateToYjs(
        binding,
        caretProvider,
        prevEditorState,
        editorState,
        dirtyElements,
        dirtyLeaves,
        normalizedNodes,
        tags,
      );
    },
  );

  // --- provider: connection, first sync, bootstrap ---
  const readOnly = options.readOnly ?? false;
  const readOnlyUntilSynced = options.readOnlyUntilSynced ?? true;
  let hasSynced = false;
  const onSync = (isSynced: boolean): void => {
    if (!isSynced) return;
    if (!hasSynced) {
      hasSynced = true;
      if (readOnly) return;
      if (bootstrapEmptyDocument(binding, options.initialContent)) undoManager.clear();
      if (readOnlyUntilSynced) editor.setEditable(true);
    }
  };
  const onStatus = ({ status }: { status: string }): void => {
    editor.dispatchCommand(CONNECTED_COMMAND, status === "connected");
  };
  if (readOnly || (readOnlyUntilSynced && !options.isSynced)) editor.setEditable(false);
  provider.on("sync", onSync);
  provider.on("status", onStatus);

  // --- presence ---
  const rootElement = editor.getRootElement();
  initLocalState(
    provider,
    user.name,
    user.color,
    rootElement !== null && rootElement.ownerDocument.activeElement === rootElement,
    {},
  );
  const onAwarenessUpdate = (): void => {
    syncCursorPositions(binding, provider);
  };
  provider.awareness.on("update", onAwarenessUpdate);

  // --- undo / redo (replaces @lexical/history) ---
  const publishUndoState = (): void => {
    editor.dispatchCommand(CAN_UNDO_COMMAND, undoManager.undoStack.length > 0);
    editor.dispatchCommand(CAN_REDO_COMMAND, undoManager.redoStack.length > 0);
  };
  undoManager.on("stack-item-added", publishUndoState);
  undoManager.on("stack-item-popped", publishUndoState);
  undoManager.on("stack-cleared", publishUndoState);

  const unregisterCommands = mergeRegister(
    editor.registerCommand(
      TOGGLE_CONNECT_COMMAND,
      (shouldConnect) => {
        if (shouldConnect) void provider.connect();
        else provider.disconnect();
        return true;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
    editor.registerCommand(
      FOCUS_COMMAND,
      () => {
        setLocalStateFocus(provider, user.name, user.color, true, {});
        return false;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
    editor.registerCommand(
      BLUR_COMMAND,
      () => {
        setLocalStateFocus(provider, user.name, user.color, false, {});
        return false;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
    editor.registerCommand(
      UNDO_COMMAND,
      () => {
        undoManager.undo();
        return true;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
    editor.registerCommand(
      REDO_COMMAND,
      () => {
        undoManager.redo();
        return true;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
  );

  // Listeners are in place: now it is safe to (re)connect and to bootstrap.
  if (options.isSynced) onSync(true);
  else void provider.connect();

  return {
    binding,
    undoManager,
    setUser(next) {
      user = next;
      provider.awareness.setLocalStateField("name", next.name);
      provider.awareness.setLocalStateField("color", next.color);
    },
    destroy() {
      unregisterCommands();
      undoManager.off("stack-item-added", publishUndoState);
      undoManager.off("stack-item-popped", publishUndoState);
      undoManager.off("stack-cleared", publishUndoState);
      undoManager.destroy();
      provider.awareness.off("update", onAwarenessUpdate);
      provider.off("sync", onSync);
      provider.off("status", onStatus);
      removeUpdateListener();
      sharedRoot.unobserveDeep(onYjsTreeChanges);
      binding.root.destroy(binding);
      binding.cursorsContainer?.replaceChildren();
      binding.cursorsContainer = null;
    },
  };
}

/**
 * True when nobody has ever written Lexical content into this doc and the
 * bootstrap client id has never written either. Under exactly these
 * conditions the bootstrap transaction is byte-for-byte the same on every
 * client (same client id, clock 0, no left/right neighbours).
 */
export function isPristineContent(
  doc: Y.Doc,
  sharedRoot: Y.XmlText,
  clientId: number = BOOTSTRAP_CLIENT_ID,
): boolean {
  return sharedRoot._start === null && !doc.store.clients.has(clientId);
}

/**
 * The fixed Yjs client id a bootstrap is written under: BOOTSTRAP_CLIENT_ID
 * for the empty paragraph, otherwise a hash of the initial content's key.
 * Equal content gives equal ids, so two clients bootstrapping the same
 * content write identical structs and Yjs keeps one copy. Different content
 * gets different ids: both copies are kept, which is better than two
 * different structs under one id (that would make the clients diverge).
 */
export function bootstrapClientIdFor(initial: InitialContent | undefined): number {
  if (initial === undefined) return BOOTSTRAP_CLIENT_ID;
  // FNV-1a, 32 bits; 0 is reserved for the empty paragraph.
  let hash = 0x811c9dc5;
  for (let i = 0; i < initial.key.length; i++) {
    hash ^= initial.key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0 || 1;
}

/**
 * Gives a brand-new document its first, empty paragraph (or `initial`).
 *
 * Two people opening a new document at once would each insert a paragraph
 * and Yjs would keep both. Instead the write is made under the fixed client
 * id BOOTSTRAP_CLIENT_ID: every client then produces identical structs
 * (same id, same clock, same content, same position), and Yjs treats the
 * second copy as already known. The update must be discrete so Lexical's
 * update listener writes to Yjs before we restore the real client id.
 *
 * `binding.isBootstrapping` keeps the write out of the undo stack. Returns
 * whether it wrote anything.
 */
export function bootstrapEmptyDocument(binding: Binding, initial?: InitialContent): boolean {
  const { doc, editor } = binding;
  const sharedRoot = binding.root.getSharedType();
  const clientId = bootstrapClientIdFor(initial);
  if (!isPristineContent(doc, sharedRoot, clientId)) return false;
  // Flush any pending editor update under our real id first, so only the
  // bootstrap itself is written as the bootstrap client.
  editor.update(() => {}, { discrete: true });
  if (!isPristineContent(doc, sharedRoot, clientId)) return false;

  const realClientId = doc.clientID;
  binding.isBootstrapping = true;
  doc.clientID = clientId;
  try {
    // One discrete update: the whole initial content is one Yjs transaction.
    editor.update(
      () => {
        const root = $getRoot();
        if (!root.isEmpty()) return;
        initial?.write();
        if (root.isEmpty()) root.append($createParagraphNode());
      },
      { discrete: true, tag: HISTORY_MERGE_TAG },
    );
  } finally {
    doc.clientID = realClientId;
    binding.isBootstrapping = false;
  }
  return doc.store.clients.has(clientId);
}

/**
 * Whether `item` is a shared type (an element) holding visible content that
 * another client wrote: undoing our insertion of it would delete their work.
 */
function holdsOthersContent(item: Y.Item, ownClientId: number): boolean {
  if (!(item.content instanceof Y.ContentType)) return false;
  for (let child = item.content.type._start; child !== null; child = child.right) {
    if (child.deleted) continue;
    if (child.id.client !== ownClientId || holdsOthersContent(child, ownClientId)) return true;
  }
  return false;
}

/**
 * The provider as `syncLexicalUpdateToYjs` sees it, publishing a collapsed
 * caret anchored to the character on its left (Yjs `assoc` -1) rather than
 * to the one on its right, which @lexical/yjs does.
 *
 * The published position is also where the local caret is put back after
 * every remote change. Anchored to the right, a caret at the spot where
 * someone else is typing jumps past each character they insert there, so
 * two people typing at one spot interleave their letters ("tqhuei cqk").
 * Anchored to the left, it stays after the writer's own last character:
 * each person's words stay together, one sentence followed by the other.
 */
function leftAnchoredCaret(provider: Provider, doc: Y.Doc): Provider {
  const awareness = provider.awareness;
  const anchorLeft = (position: Y.RelativePosition | null): Y.RelativePosition | null => {
    if (position === null || position.assoc < 0) return position;
    const absolute = Y.createAbsolutePositionFromRelativePosition(position, doc);
    if (absolute === null) return position;
    return Y.createRelativePositionFromTypeIndex(absolute.type, absolute.index, -1);
  };
  return {
    ...bindProvider(provider),
    awareness: {
      getLocalState: () => awareness.getLocalState(),
      getStates: () => awareness.getStates(),
      on: (type, listener) => awareness.on(type, listener),
      off: (type, listener) => awareness.off(type, listener),
      setLocalStateField: (field, value) => awareness.setLocalStateField(field, value),
      setLocalState(state) {
        // Only a collapsed caret: a range's ends already stick to the
        // characters they select.
        if (state === null || !samePosition(state.anchorPos, state.focusPos)) {
          awareness.setLocalState(state);
          return;
        }
        const caret = anchorLeft(state.anchorPos);
        const next = { ...state, anchorPos: caret, focusPos: caret };
        // Lexical compares against what it published (anchored right), so it
        // asks again for a caret that did not move: publish only changes.
        const current = awareness.getLocalState();
        if (current !== null && sameUserState(current, next)) return;
        awareness.setLocalState(next);
      },
    },
  };
}

function samePosition(a: Y.RelativePosition | null, b: Y.RelativePosition | null): boolean {
  return a !== null && b !== null && Y.compareRelativePositions(a, b);
}

function sameUserState(a: UserState, b: UserState): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof UserState>;
  for (const key of keys) {
    if (key === "anchorPos" || key === "focusPos") {
      if (!samePosition(a[key], b[key])) return false;
    } else if (a[key] !== b[key]) {
      return false;
    }
  }
  return true;
}

/** The provider's own methods, bound, for an object that overrides only its awareness. */
function bindProvider(provider: Provider): Provider {
  return {
    awareness: provider.awareness,
    connect: () => provider.connect(),
    disconnect: () => provider.disconnect(),
    on: provider.on.bind(provider),
    off: provider.off.bind(provider),
  };
}
