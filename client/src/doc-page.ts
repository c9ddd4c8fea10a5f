/**
 * The document page at /d/<id>: shared title, connection and saved status,
 * presence, display name, toolbar and the collaborative editor. Everything
 * it creates (doc, provider, editor, listeners) is torn down by `destroy()`.
 *
 * With an access token, the token's claims shape the page: a `read` token
 * gets a view-only page (no editing, toolbar and title disabled, a "View
 * only" badge), and a token's name is the display name (the server stamps
 * it on our presence anyway, so the name field is read-only).
 */
import {
  CLOSE_FORBIDDEN,
  CLOSE_NO_DOCUMENT,
  CLOSE_NORMAL,
  CLOSE_UNAUTHENTICATED,
  describeCloseCode,
  TITLE_FIELD,
  TITLE_MAX_LENGTH,
} from "@cowrite/shared";
import { $getRoot } from "lexical";
import type { DocumentsApi } from "./api.ts";
import { createCollabEditor } from "./collab-editor.ts";
import { el } from "./dom.ts";
import { createDownloadMenu } from "./download-menu.ts";
import { createHistoryPanel } from "./history-panel.ts";
import { type Identity, type KeyValueStore, NAME_MAX_LENGTH, saveDisplayName } from "./identity.ts";
import { createPresenceList } from "./presence.ts";
import type { ConnectionState, SavedState } from "./provider.ts";
import type { Page } from "./router.ts";
import { bindTitle } from "./title-binding.ts";
import { decodeTokenClaims, describeAccessError, localCopyUser } from "./token.ts";
import { countText, describeCounts } from "./word-count.ts";

export interface DocumentPageOptions {
  docId: string;
  identity: Identity;
  store: KeyValueStore | null;
  /** WebSocket base URL, e.g. ws://host/ws. */
  wsUrl: string;
  /** The access token, sent to the server; null when the page has none (auth off). */
  token?: string | null;
  /** The HTTP API (version history). */
  api: DocumentsApi;
}

export function mountDocumentPage(container: HTMLElement, options: DocumentPageOptions): Page {
  const { docId, store } = options;
  const token = options.token ?? null;
  const claims = decodeTokenClaims(token);
  const readOnly = claims?.permission === "read";
  const tokenName = claims?.name ?? null;
  let identity = tokenName === null ? options.identity : { ...options.identity, name: tokenName };

  const collab = createCollabEditor({
    url: options.wsUrl,
    docId,
    user: identity,
    readOnly,
    ...localCopyOption(localCopyUser(token)),
    ...(token === null ? {} : { token }),
  });
  const { doc, provider, editor, localCopy } = collab;
  // The app's e2e tests know the body as "editor" (embeds: "cowrite-content").
  collab.content.dataset.testid = "editor";

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
  if (tokenName !== null) {
    nameInput.readOnly = true;
    nameInput.title = "Your name, from your access link";
  }
  const wordCount = el("span", { className: "word-count", testid: "word-count" });
  const viewOnly = el("span", {
    className: "view-only-badge",
    testid: "view-only",
    text: "View only",
    title: "You can read this document and watch others edit it, but not change it",
    hidden: !readOnly,
  });
  const presence = createPresenceList(provider.awareness);
  const history = createHistoryPanel({ api: options.api, docId, canWrite: !readOnly });
  const download = createDownloadMenu({ docId, token });
  const banner = el("div", {
    className: "banner",
    role: "alert",
    hidden: true,
    testid: "connection-error",
  });

  const header = el("header", { className: "doc-header" }, [
    el("div", { className: "doc-header-main" }, [
      el(
        "a",
        { className: "home-link", href: "/", ariaLabel: "All documents", title: "All documents" },
        [el("span", { className: "logo", text: "C" })],
      ),
      el("div", { className: "doc-title-block" }, [
        titleInput,
        el("div", { className: "doc-meta" }, [status, saved, wordCount, viewOnly]),
      ]),
      el("div", { className: "doc-people" }, [
        presence.element,
        el("label", { className: "name-field" }, [
          el("span", { className: "visually-hidden", text: "Your name" }),
          nameInput,
        ]),
        history.toggle,
        download.element,
      ]),
    ]),
    el("div", { className: "toolbar-row" }, collab.toolbar === null ? [] : [collab.toolbar]),
  ]);
  // .cowrite-editor scopes editor.css (toolbar and body) to the whole page.
  const page = el("div", { className: "doc-page cowrite-editor" }, [
    header,
    banner,
    el("div", { className: "doc-body" }, [
      el("main", { className: "page-scroller" }, [el("div", { className: "page" }, [collab.body])]),
      history.element,
    ]),
  ]);
  container.replaceChildren(page);

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

  // ---- focus: a fresh document is ready to type into ----
  // Once editable (first sync done), an empty document takes the caret: in
  // the title when it has none, else in the body. A document with content,
  // or a page where the user already put the focus elsewhere, is left alone.
  const offFirstEditable = editor.registerEditableListener((editable) => {
    if (!editable) return;
    offFirstEditable();
    const active = document.activeElement;
    if (active !== null && active !== document.body) return;
    const bodyIsEmpty = editor.getEditorState().read(() => $getRoot().getTextContent() === "");
    if (!bodyIsEmpty) return;
    if (doc.getText(TITLE_FIELD).length === 0) titleInput.focus();
    else editor.focus();
  });

  // ---- word and character count ----
  // Counted at most once a frame, however fast people type.
  let countFrame: number | null = null;
  const renderCount = (): void => {
    countFrame = null;
    const text = editor.getEditorState().read(() => $getRoot().getTextContent());
    const described = describeCounts(countText(text));
    wordCount.textContent = described.words;
    wordCount.title = described.characters;
  };
  const offChange = collab.on("change", () => {
    countFrame ??= requestAnimationFrame(renderCount);
  });
  renderCount();

  // ---- status ----
  const renderConnection = (state: ConnectionState): void => {
    status.dataset.state = state.status;
    // Which transport carries the connection (HTTP fallback, issue 15).
    status.dataset.transport = provider.transport;
    status.textContent = describeConnection(state, {
      keptOnDevice: localCopy?.kept === true,
      overHttp: provider.transport === "http",
    });
    status.title = status.textContent;
    const stopped = state.status === "stopped" && state.code !== CLOSE_NORMAL;
    banner.hidden = !stopped;
    if (stopped) {
      const isAccessError = state.code === CLOSE_UNAUTHENTICATED || state.code === CLOSE_FORBIDDEN;
      banner.replaceChildren(
        ...(isAccessError
          ? [el("strong", { text: describeAccessError(state.code, state.reason) })]
          : state.code === CLOSE_NO_DOCUMENT
            ? [
                el("strong", { text: "This document was deleted. " }),
                el("span", { text: "It can no longer be edited." }),
              ]
            : [
                el("strong", { text: "This document is not available. " }),
                el("span", { text: capitalize(state.reason) }),
              ]),
        el("span", { text: " " }),
        el("a", { href: "/", text: "Back to all documents" }),
      );
    }
    titleInput.readOnly = readOnly || state.status === "stopped";
    // A deleted document saves nothing any more: "Unsaved changes" would wait forever.
    saved.hidden = state.status === "stopped" && state.code === CLOSE_NO_DOCUMENT;
  };
  // Edits the server has not confirmed, but this device keeps, are safe
  // from a reload or a closed tab: say so rather than "unsaved".
  const renderSaved = (): void => {
    const state = provider.saved;
    const onDevice = state === "unsaved" && localCopy?.kept === true;
    saved.dataset.state = onDevice ? "on-device" : state;
    saved.textContent = onDevice ? "Changes kept on this device" : SAVED_TEXT[state];
  };
  const onKept = (): void => {
    renderSaved();
    renderConnection(collab.status);
  };
  const offConnection = collab.on("status", renderConnection);
  provider.on("saved", renderSaved);
  const offKept = localCopy?.on("kept", onKept);
  renderConnection(collab.status);
  renderSaved();

  // ---- leaving with edits neither the server nor this device has ----
  // Only then would they be lost, so only then does the browser ask first
  // (no IndexedDB, or the last keystroke is still being written). A stopped
  // connection (deleted, access revoked) will never save them: asking would
  // only block leaving.
  const onBeforeUnload = (event: BeforeUnloadEvent): void => {
    if (provider.saved === "saved" || localCopy?.kept === true) return;
    if (collab.status.status === "stopped") return;
    event.preventDefault();
  };
  window.addEventListener("beforeunload", onBeforeUnload);

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
      window.removeEventListener("beforeunload", onBeforeUnload);
      offFirstEditable();
      offChange();
      if (countFrame !== null) cancelAnimationFrame(countFrame);
      offConnection();
      provider.off("saved", renderSaved);
      offKept?.();
      unbindTitle();
      presence.destroy();
      history.destroy();
      download.destroy();
      collab.destroy();
      page.remove();
    },
  };
}

const SAVED_TEXT: Record<SavedState, string> = {
  saved: "All changes saved",
  saving: "Saving…",
  unsaved: "Unsaved changes",
};

function describeConnection(
  state: ConnectionState,
  { keptOnDevice, overHttp }: { keptOnDevice: boolean; overHttp: boolean },
): string {
  switch (state.status) {
    case "connecting":
      return "Connecting…";
    case "connected":
      // WebSocket is blocked on this network: the HTTP fallback carries it.
      return overHttp ? "Connected over HTTP" : "Connected";
    case "reconnecting":
      return "Reconnecting…";
    case "offline":
      return keptOnDevice
        ? "Offline – changes kept on this device"
        : "Offline – changes will sync when you reconnect";
    case "stopped":
      return `Disconnected: ${state.reason || describeCloseCode(state.code)?.reason || "closed"}`;
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

function localCopyOption(user: string | null): { localCopyUser?: string } {
  return user === null ? {} : { localCopyUser: user };
}
