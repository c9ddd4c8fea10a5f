/**
 * The document list at `/`: create a document, open one, see when each last
 * changed; search by title, load more in pages, rename and delete; import
 * a Markdown, HTML or text file (chosen, or dropped onto the page) as a new
 * document.
 *
 * Deleting asks first, then hides the entry and offers Undo for
 * `undoWindowMs`; only then is the document deleted on the server (at once
 * if the page goes away meanwhile). Until then nothing has happened that
 * Undo would have to repair.
 */
import {
  CREATE_BODY_MAX_BYTES,
  type DocumentMeta,
  type ImportFormat,
  TITLE_MAX_LENGTH,
} from "@cowrite/shared";
import { ApiRequestError, type DocumentsApi } from "./api.ts";
import { el, iconButton } from "./dom.ts";
import { formatDateTime, formatRelativeTime } from "./format.ts";
import { documentPath, type Page } from "./router.ts";
import { decodeTokenClaims, describeAccessError } from "./token.ts";

export interface ListPageOptions {
  api: DocumentsApi;
  navigate: (path: string) => void;
  /** The access token the app was opened with; only its claims are read here (the api sends it). */
  token?: string | null;
  /** Entries per page (default 50). */
  pageSize?: number;
  /** How long a deletion can be undone (default 8 s). */
  undoWindowMs?: number;
  /** Called once a document is deleted on the server: forget this device's copy of it. */
  onDeleted?: (id: string) => void;
}

/** How often relative times ("5 minutes ago") are refreshed. */
const refreshTimesMs = 30_000;
/** Typing in the search box waits this long for the next key before asking. */
const searchDelayMs = 200;

interface PendingDelete {
  meta: DocumentMeta;
  timer: ReturnType<typeof setTimeout>;
  toast: HTMLElement;
}

export function mountListPage(
  container: HTMLElement,
  {
    api,
    navigate,
    token = null,
    pageSize = 50,
    undoWindowMs = 8000,
    onDeleted = () => {},
  }: ListPageOptions,
): Page {
  let destroyed = false;
  const canWrite = decodeTokenClaims(token)?.permission !== "read";
  const newButton = el("button", {
    className: "button button-primary",
    type: "button",
    testid: "new-document",
    text: "New document",
  });
  if (!canWrite) {
    // The server would refuse with 403; say so before the click.
    newButton.disabled = true;
    newButton.title = "Your access is view-only";
  }
  const importInput = el("input", {
    className: "visually-hidden",
    type: "file",
    testid: "import-file",
  });
  importInput.accept = IMPORT_ACCEPT;
  const importButton = el(
    "label",
    { className: "button", title: "Import a file as a new document" },
    [el("span", { text: "Import" }), importInput],
  );
  if (!canWrite) {
    importInput.disabled = true;
    importButton.title = "Your access is view-only";
  }
  const error = el("p", {
    className: "list-error",
    role: "alert",
    hidden: true,
    testid: "list-error",
  });
  const search = el("input", {
    className: "list-search",
    type: "search",
    placeholder: "Search by title",
    ariaLabel: "Search documents by title",
    testid: "search",
    maxLength: TITLE_MAX_LENGTH,
    spellcheck: false,
  });
  const list = el("ul", {
    className: "document-list",
    testid: "document-list",
    ariaLabel: "Documents",
  });
  const emptyTitle = el("p", { className: "empty-title", text: "No documents yet" });
  const emptyHint = el("p", { text: "Create one and share its link to write together." });
  const empty = el("div", { className: "empty-state", hidden: true, testid: "empty-state" }, [
    emptyTitle,
    emptyHint,
  ]);
  const loading = el("p", { className: "list-loading", text: "Loading documents…" });
  const moreButton = el("button", {
    className: "button list-more",
    type: "button",
    testid: "load-more",
    text: "Show more",
    hidden: true,
  });
  const toasts = el("div", { className: "toasts", role: "status", testid: "toasts" });
  const dialogMessage = el("p", { className: "dialog-message" });
  const confirmButton = el("button", {
    className: "button button-danger",
    type: "button",
    text: "Delete",
    testid: "confirm-delete",
  });
  const cancelButton = el("button", { className: "button", type: "button", text: "Cancel" });
  const dialog = el("dialog", { className: "dialog", testid: "delete-dialog" }, [
    el("h2", { className: "dialog-title", text: "Delete this document?" }),
    dialogMessage,
    el("div", { className: "dialog-actions" }, [cancelButton, confirmButton]),
  ]);
  dialog.setAttribute("aria-labelledby", "delete-dialog-title");
  dialog.querySelector("h2")?.setAttribute("id", "delete-dialog-title");

  const page = el("div", { className: "list-page" }, [
    el("header", { className: "list-header" }, [
      el("div", { className: "brand" }, [
        el("span", { className: "logo", text: "C" }),
        el("h1", { text: "Cowrite" }),
      ]),
      el("div", { className: "list-actions" }, [importButton, newButton]),
    ]),
    el("main", { className: "list-main" }, [
      el("div", { className: "list-toolbar" }, [
        el("h2", { className: "list-heading", text: "Documents" }),
        search,
      ]),
      error,
      loading,
      list,
      empty,
      moreButton,
    ]),
    toasts,
    dialog,
  ]);
  container.replaceChildren(page);
  document.title = "Documents – Cowrite";

  let documents: DocumentMeta[] = [];
  let nextCursor: string | null = null;
  /** Bumped by every fresh load, so an older answer arriving late is dropped. */
  let generation = 0;
  const pendingDeletes = new Map<string, PendingDelete>();
  /** The entry being renamed, if any: a refresh must not throw its input away. */
  let renaming: string | null = null;

  const visible = (): DocumentMeta[] => documents.filter((meta) => !pendingDeletes.has(meta.id));

  const renderItem = (meta: DocumentMeta): HTMLLIElement => {
    const titled = meta.title.trim() !== "";
    const title = titled ? meta.title.trim() : "Untitled";
    const time = el("time", {
      className: "document-time",
      text: `Edited ${formatRelativeTime(meta.updatedAt)}`,
      title: formatDateTime(meta.updatedAt),
    });
    time.dateTime = meta.updatedAt;
    const item = el("li", { className: "document-item", testid: "document-item" });
    item.dataset.id = meta.id;
    if (renaming === meta.id) {
      item.append(renderRenameForm(meta));
      return item;
    }
    item.append(
      el("a", { className: "document-link", href: documentPath(meta.id) }, [
        el("span", { className: "document-icon", text: "¶", ariaHidden: true }),
        el("span", {
          className: titled ? "document-title" : "document-title is-untitled",
          text: title,
        }),
        time,
      ]),
    );
    if (canWrite) {
      const rename = iconButton({
        glyph: "✎",
        label: `Rename ${title}`,
        title: "Rename",
        testid: "rename",
      });
      rename.addEventListener("click", () => startRename(meta.id));
      const remove = iconButton({
        glyph: "🗑",
        label: `Delete ${title}`,
        title: "Delete",
        className: "icon-button-danger",
        testid: "delete",
      });
      remove.addEventListener("click", () => void askToDelete(meta));
      item.append(el("div", { className: "document-actions" }, [rename, remove]));
    }
    return item;
  };

  const renderRenameForm = (meta: DocumentMeta): HTMLFormElement => {
    const input = el("input", {
      className: "rename-input",
      type: "text",
      ariaLabel: "New title",
      testid: "rename-input",
      maxLength: TITLE_MAX_LENGTH,
      placeholder: "Untitled",
    });
    input.value = meta.title;
    const save = el("button", { className: "button button-primary", type: "submit", text: "Save" });
    const cancel = el("button", { className: "button", type: "button", text: "Cancel" });
    const form = el("form", { className: "rename-form" }, [input, save, cancel]);
    const stop = (): void => {
      renaming = null;
      renderList();
      list.querySelector<HTMLElement>(`[data-id="${meta.id}"] [data-testid="rename"]`)?.focus();
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (title === meta.title.trim()) return stop();
      save.disabled = true;
      api.renameDocument(meta.id, title).then(
        (renamed) => {
          if (destroyed) return;
          documents = documents.map((d) => (d.id === renamed.id ? renamed : d));
          stop();
        },
        (reason: unknown) => {
          if (destroyed) return;
          save.disabled = false;
          showError(describeFailure("Could not rename the document", reason));
        },
      );
    });
    cancel.addEventListener("click", stop);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        stop();
      }
    });
    queueMicrotask(() => {
      input.focus();
      input.select();
    });
    return form;
  };

  const startRename = (id: string): void => {
    renaming = id;
    renderList();
  };

  const renderList = (): void => {
    const shown = visible();
    list.replaceChildren(...shown.map(renderItem));
    const searching = search.value.trim() !== "";
    emptyTitle.textContent = searching
      ? `No documents match “${search.value.trim()}”`
      : "No documents yet";
    emptyHint.textContent = searching
      ? "Try another part of the title."
      : "Create one and share its link to write together.";
    empty.hidden = shown.length > 0 || !loading.hidden;
    moreButton.hidden = nextCursor === null;
  };

  const showError = (message: string): void => {
    error.textContent = message;
    error.hidden = false;
  };

  /** Loads the first page again (for a new search, or on coming back to the tab). */
  const load = async (): Promise<void> => {
    const mine = ++generation;
    list.setAttribute("aria-busy", "true");
    try {
      const result = await api.listDocuments({ q: search.value.trim(), limit: pageSize });
      if (destroyed || mine !== generation) return;
      documents = result.documents;
      nextCursor = result.nextCursor;
      error.hidden = true;
    } catch (reason) {
      if (destroyed || mine !== generation) return;
      showError(describeFailure("Could not load documents", reason));
    } finally {
      if (!destroyed && mine === generation) {
        loading.hidden = true;
        list.setAttribute("aria-busy", "false");
        renderList();
      }
    }
  };

  const loadMore = async (): Promise<void> => {
    if (nextCursor === null) return;
    const mine = generation;
    moreButton.disabled = true;
    try {
      const result = await api.listDocuments({
        q: search.value.trim(),
        limit: pageSize,
        cursor: nextCursor,
      });
      if (destroyed || mine !== generation) return;
      // A document edited since the first page moved up: keep one entry.
      const known = new Set(documents.map((d) => d.id));
      documents = [...documents, ...result.documents.filter((d) => !known.has(d.id))];
      nextCursor = result.nextCursor;
      renderList();
    } catch (reason) {
      if (!destroyed) showError(describeFailure("Could not load more documents", reason));
    } finally {
      moreButton.disabled = false;
    }
  };

  // ---- delete, with a confirmation and a window to undo ----
  let confirming: ((confirmed: boolean) => void) | null = null;
  const confirmDelete = (meta: DocumentMeta): Promise<boolean> => {
    const title = meta.title.trim() || "Untitled";
    dialogMessage.textContent =
      `“${title}” will be deleted for everyone, and people who have it open ` +
      "will no longer be able to edit it.";
    dialog.showModal();
    cancelButton.focus();
    return new Promise((resolve) => {
      confirming = resolve;
    });
  };
  const answer = (confirmed: boolean): void => {
    const resolve = confirming;
    confirming = null;
    if (dialog.open) dialog.close();
    resolve?.(confirmed);
  };
  confirmButton.addEventListener("click", () => answer(true));
  cancelButton.addEventListener("click", () => answer(false));
  // Escape closes the dialog by itself.
  dialog.addEventListener("close", () => answer(false));

  const askToDelete = async (meta: DocumentMeta): Promise<void> => {
    if (!(await confirmDelete(meta)) || destroyed) return;
    const title = meta.title.trim() || "Untitled";
    const undo = el("button", { className: "toast-action", type: "button", text: "Undo" });
    const toast = el("div", { className: "toast", testid: "toast" }, [
      el("span", { text: `Deleted “${title}”.` }),
      undo,
    ]);
    const timer = setTimeout(() => void commitDelete(meta.id), undoWindowMs);
    pendingDeletes.set(meta.id, { meta, timer, toast });
    toasts.append(toast);
    undo.addEventListener("click", () => {
      const pending = pendingDeletes.get(meta.id);
      if (!pending) return;
      clearTimeout(pending.timer);
      pendingDeletes.delete(meta.id);
      toast.remove();
      renderList();
    });
    undo.focus();
    renderList();
  };

  const commitDelete = async (id: string, keepalive = false): Promise<void> => {
    const pending = pendingDeletes.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.toast.remove();
    try {
      await api.deleteDocument(id, { keepalive });
      pendingDeletes.delete(id);
      documents = documents.filter((d) => d.id !== id);
      onDeleted(id);
    } catch (reason) {
      pendingDeletes.delete(id);
      // Already gone is what was asked for.
      if (reason instanceof ApiRequestError && reason.status === 404) {
        documents = documents.filter((d) => d.id !== id);
        onDeleted(id);
      } else if (!destroyed) {
        showError(describeFailure("Could not delete the document", reason));
      }
    }
    if (!destroyed) renderList();
  };
  const commitAllDeletes = (keepalive: boolean): void => {
    for (const id of [...pendingDeletes.keys()]) void commitDelete(id, keepalive);
  };
  // Closing the tab within the window still deletes what was deleted.
  const onPageHide = (): void => commitAllDeletes(true);
  window.addEventListener("pagehide", onPageHide);

  // ---- events ----
  const onNew = async (): Promise<void> => {
    newButton.disabled = true;
    try {
      const meta = await api.createDocument();
      if (!destroyed) navigate(documentPath(meta.id));
    } catch (reason) {
      if (destroyed) return;
      showError(describeFailure("Could not create a document", reason));
      newButton.disabled = false;
    }
  };
  const importFile = async (file: File): Promise<void> => {
    const format = importFormatOf(file);
    if (format === null) {
      showError(`Cannot import “${file.name}”: choose a Markdown, HTML or text file.`);
      return;
    }
    if (file.size > CREATE_BODY_MAX_BYTES) {
      showError(
        `Cannot import “${file.name}”: it is larger than ${CREATE_BODY_MAX_BYTES / 1024} kB.`,
      );
      return;
    }
    importInput.disabled = true;
    try {
      const meta = await api.importDocument({ format, text: await file.text() });
      if (!destroyed) navigate(documentPath(meta.id));
    } catch (reason) {
      if (!destroyed) showError(describeFailure(`Could not import “${file.name}”`, reason));
    } finally {
      importInput.disabled = !canWrite;
      importInput.value = "";
    }
  };
  const onImportChange = (): void => {
    const file = importInput.files?.[0];
    if (file) void importFile(file);
  };
  importInput.addEventListener("change", onImportChange);
  // A file dragged over the page can be dropped anywhere on it.
  const carriesFiles = (event: DragEvent): boolean =>
    canWrite && (event.dataTransfer?.types.includes("Files") ?? false);
  const onDragOver = (event: DragEvent): void => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    page.classList.add("is-drop-target");
  };
  const onDragLeave = (event: DragEvent): void => {
    if (event.relatedTarget === null || !page.contains(event.relatedTarget as Node)) {
      page.classList.remove("is-drop-target");
    }
  };
  const onDrop = (event: DragEvent): void => {
    page.classList.remove("is-drop-target");
    if (!carriesFiles(event)) return;
    event.preventDefault();
    const file = event.dataTransfer?.files[0];
    if (file) void importFile(file);
  };
  page.addEventListener("dragover", onDragOver);
  page.addEventListener("dragleave", onDragLeave);
  page.addEventListener("drop", onDrop);

  const onNewClick = (): void => {
    void onNew();
  };
  newButton.addEventListener("click", onNewClick);
  moreButton.addEventListener("click", () => void loadMore());

  let searchTimer: ReturnType<typeof setTimeout> | null = null;
  search.addEventListener("input", () => {
    // Busy from the first key: what is shown is not yet the answer to it.
    list.setAttribute("aria-busy", "true");
    if (searchTimer !== null) clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      searchTimer = null;
      void load();
    }, searchDelayMs);
  });

  const refreshTimer = setInterval(() => {
    if (renaming === null) renderList();
  }, refreshTimesMs);
  // Coming back to the tab: other people may have edited or created documents.
  const onVisible = (): void => {
    if (document.visibilityState === "visible" && renaming === null) void load();
  };
  document.addEventListener("visibilitychange", onVisible);
  void load();

  return {
    destroy() {
      // Leaving the page ends the undo window: what was deleted is deleted.
      commitAllDeletes(false);
      destroyed = true;
      clearInterval(refreshTimer);
      if (searchTimer !== null) clearTimeout(searchTimer);
      window.removeEventListener("pagehide", onPageHide);
      document.removeEventListener("visibilitychange", onVisible);
      newButton.removeEventListener("click", onNewClick);
      importInput.removeEventListener("change", onImportChange);
      page.removeEventListener("dragover", onDragOver);
      page.removeEventListener("dragleave", onDragLeave);
      page.removeEventListener("drop", onDrop);
      if (dialog.open) dialog.close();
      page.remove();
    },
  };
}

const IMPORT_ACCEPT = ".md,.markdown,.html,.htm,.txt,text/markdown,text/html,text/plain";

/** The import format of a file, by its name first and its type second; null for others. */
function importFormatOf(file: File): ImportFormat | null {
  const name = file.name.toLowerCase();
  if (/\.(md|markdown)$/.test(name)) return "markdown";
  if (/\.html?$/.test(name)) return "html";
  if (/\.txt$/.test(name)) return "text";
  if (file.type === "text/markdown") return "markdown";
  if (file.type === "text/html") return "html";
  if (file.type === "text/plain") return "text";
  return null;
}

/** Access problems name themselves ("Sign-in required: ..."); other failures say what failed. */
function describeFailure(action: string, reason: unknown): string {
  if (reason instanceof ApiRequestError && (reason.status === 401 || reason.status === 403)) {
    return describeAccessError(reason.status, reason.message);
  }
  return `${action}: ${(reason as Error).message}`;
}
