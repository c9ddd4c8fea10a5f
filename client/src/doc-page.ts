/**
 * The document page at /d/<id>: shared title, connection and saved status,
 * presence, display name, toolbar and the collaborative editor. Everything
 * it creates (doc, provider, editor, listeners) is torn down by `destroy()`.
 */
import { describeCloseCode, TITLE_FIELD, TITLE_MAX_LENGTH } from "@cowrite/shared";
import type { Provider } from "@lexical/yjs";
import { $getRoot, $isParagraphNode } from "lexical";
import * as Y from "yjs";
import { bindEditor } from "./binding.ts";
import { el } from "./dom.ts";
import { createCowriteEditor, registerEditorFeatures } from "./editor.ts";
import { type Identity, type KeyValueStore, NAME_MAX_LENGTH, saveDisplayName } from "./identity.ts";
import { createPresenceList } from "./presence.ts";
import { type ConnectionState, CowriteProvider, type SavedState } from "./provider.ts";
import type { Page } from "./router.ts";
import { bindTitle } from "./title-binding.ts";
import { createToolbar } from "./toolbar.ts";

export interface DocumentPageOptions {
  docId: string;
  identity: Identity;
  store: KeyValueStore | null;
  /** WebSocket base URL, e.g. ws://host/ws. */
  wsUrl: string;
}

export function mountDocumentPage(container: HTMLElement, options: DocumentPageOptions): Page {
  const { docId, store } = options;
  let identity = options.identity;

  const doc = new Y.Doc();
  // Connect only after the editor binding listens, so no first sync is missed.
  const provider = new CowriteProvider({ url: options.wsUrl, docId, doc, connect: false });

  // ---- layout ----
  const titleInput = el("input", {
    className: "title-input",
    type: "text",
    placeholder: "Untitled",
    maxLength: TITLE_MAX_LENGTH,
    spellcheck: true,
    ariaLabel: "Document title",
    testid: "title",
  });
  const status = el("span", { className: "status", testid: "status", role: "status" });
  const saved = el("span", { className: "saved", testid: "saved" });
  saved.setAttribute("aria-live", "polite");
  const nameInput = el("input", {
    className: "name-input",
    type: "text",
    maxLength: NAME_MAX_LENGTH,
    ariaLabel: "Your display name",
    title: "Your name, as others see it",
    testid: "display-name",
  });
  nameInput.value = identity.name;
  const presence = createPresenceList(provider.awareness);
  const banner = el("div", { className: "banner", role: "alert", hidden: true });

  const editorElement = el("div", {
    className: "editor",
    testid: "editor",
    role: "textbox",
    ariaLabel: "Document body",
  });
  editorElement.setAttribute("aria-multiline", "true");
  editorElement.spellcheck = true;
  const placeholder = el("div", { className: "editor-placeholder", text: "Start writing…" });
  placeholder.setAttribute("aria-hidden", "true");
  const cursors = el("div", { className: "cursors" });
  const editorWrapper = el("div", { className: "editor-wrapper" }, [
    editorElement,
    placeholder,
    cursors,
  ]);

  const editor = createCowriteEditor((error) => {
    console.error("[cowrite] editor error", error);
  });
  const toolbar = createToolbar(editor);

  const header = el("header", { className: "doc-header" }, [
    el("div", { className: "doc-header-main" }, [
      el(
        "a",
        { className: "home-link", href: "/", ariaLabel: "All documents", title: "All documents" },
        [el("span", { className: "logo", text: "C" })],
      ),
      el("div", { className: "doc-title-block" }, [
        titleInput,
        el("div", { className: "doc-meta" }, [status, saved]),
      ]),
      el("div", { className: "doc-people" }, [
        presence.element,
        el("label", { className: "name-field" }, [
          el("span", { className: "visually-hidden", text: "Your name" }),
          nameInput,
        ]),
      ]),
    ]),
    el("div", { className: "toolbar-row" }, [toolbar.element]),
  ]);
  const page = el("div", { className: "doc-page" }, [
    header,
    banner,
    el("main", { className: "page-scroller" }, [el("div", { className: "page" }, [editorWrapper])]),
  ]);
  container.replaceChildren(page);

  // ---- editor ----
  editor.setRootElement(editorElement);
  const unregisterFeatures = registerEditorFeatures(editor);
  const unregisterPlaceholder = editor.registerUpdateListener(({ editorState }) => {
    const isEmpty = editorState.read(() => {
      const root = $getRoot();
      const first = root.getFirstChild();
      return (
        root.getChildrenSize() <= 1 &&
        (first === null || $isParagraphNode(first)) &&
        root.getTextContent() === ""
      );
    });
    placeholder.hidden = !isEmpty || !editor.isEditable();
  });
  const unregisterEditable = editor.registerEditableListener((editable) => {
    editorWrapper.classList.toggle("is-loading", !editable);
  });
  editorWrapper.classList.add("is-loading");
  placeholder.hidden = true;

  // y-protocols' Awareness types its states as `{[key: string]: any}`, which
  // TypeScript will not match to Lexical's UserState; the objects are the same.
  const lexicalProvider = provider as unknown as Provider;
  const collab = bindEditor({
    editor,
    provider: lexicalProvider,
    doc,
    user: identity,
    cursorsContainer: cursors,
  });

  // ---- title ----
  const unbindTitle = bindTitle({
    text: doc.getText(TITLE_FIELD),
    input: titleInput,
    onChange: (title) => {
      document.title = `${title.trim() || "Untitled"} – Cowrite`;
    },
  });
  titleInput.addEventListener("keydown", onTitleKeyDown);
  function onTitleKeyDown(event: KeyboardEvent): void {
    // Enter in the title moves on to the body, as in most editors.
    if (event.key === "Enter" || (event.key === "ArrowDown" && !event.shiftKey)) {
      event.preventDefault();
      editor.focus();
    }
  }

  // ---- status ----
  const renderConnection = (state: ConnectionState): void => {
    status.dataset.state = state.status;
    status.textContent = describeConnection(state);
    status.title = status.textContent;
    const stopped = state.status === "stopped" && state.code !== 1000;
    banner.hidden = !stopped;
    if (stopped) {
      banner.replaceChildren(
        el("strong", { text: "This document is not available. " }),
        el("span", { text: capitalize(state.reason) }),
        el("span", { text: " " }),
        el("a", { href: "/", text: "Back to all documents" }),
      );
    }
    titleInput.readOnly = state.status === "stopped";
  };
  const renderSaved = (state: SavedState): void => {
    saved.dataset.state = state;
    saved.textContent = SAVED_TEXT[state];
  };
  provider.on("connection", renderConnection);
  provider.on("saved", renderSaved);
  renderConnection(provider.connection);
  renderSaved(provider.saved);

  // ---- display name ----
  const commitName = (): void => {
    const name = saveDisplayName(store, nameInput.value);
    if (name === null) {
      nameInput.value = identity.name;
      return;
    }
    nameInput.value = name;
    if (name === identity.name) return;
    identity = { ...identity, name };
    collab.setUser(identity);
  };
  const onNameKeyDown = (event: KeyboardEvent): void => {
    if (event.key === "Enter") nameInput.blur();
    if (event.key === "Escape") {
      nameInput.value = identity.name;
      nameInput.blur();
    }
  };
  nameInput.addEventListener("change", commitName);
  nameInput.addEventListener("keydown", onNameKeyDown);

  return {
    destroy() {
      nameInput.removeEventListener("change", commitName);
      nameInput.removeEventListener("keydown", onNameKeyDown);
      titleInput.removeEventListener("keydown", onTitleKeyDown);
      provider.off("connection", renderConnection);
      provider.off("saved", renderSaved);
      unbindTitle();
      collab.destroy();
      unregisterEditable();
      unregisterPlaceholder();
      unregisterFeatures();
      toolbar.destroy();
      presence.destroy();
      editor.setRootElement(null);
      provider.destroy();
      doc.destroy();
      page.remove();
    },
  };
}

const SAVED_TEXT: Record<SavedState, string> = {
  saved: "All changes saved",
  saving: "Saving…",
  unsaved: "Unsaved changes",
};

function describeConnection(state: ConnectionState): string {
  switch (state.status) {
    case "connecting":
      return "Connecting…";
    case "connected":
      return "Connected";
    case "reconnecting":
      return "Reconnecting…";
    case "offline":
      return "Offline – changes will sync when you reconnect";
    case "stopped":
      return `Disconnected: ${state.reason || describeCloseCode(state.code)?.reason || "closed"}`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}
