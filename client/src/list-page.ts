/** The document list at `/`: create a document, open one, see when each last changed. */
import type { DocumentMeta } from "@cowrite/shared";
import type { DocumentsApi } from "./api.ts";
import { el } from "./dom.ts";
import { formatDateTime, formatRelativeTime } from "./format.ts";
import { documentPath, type Page } from "./router.ts";

export interface ListPageOptions {
  api: DocumentsApi;
  navigate: (path: string) => void;
}

/** How often relative times ("5 minutes ago") are refreshed. */
const REFRESH_TIMES_MS = 30_000;

export function mountListPage(container: HTMLElement, { api, navigate }: ListPageOptions): Page {
  let destroyed = false;
  const newButton = el("button", {
    className: "button button-primary",
    type: "button",
    testid: "new-document",
    text: "New document",
  });
  const error = el("p", {
    className: "list-error",
    role: "alert",
    hidden: true,
    testid: "list-error",
  });
  const list = el("ul", {
    className: "document-list",
    testid: "document-list",
    ariaLabel: "Documents",
  });
  const empty = el("div", { className: "empty-state", hidden: true, testid: "empty-state" }, [
    el("p", { className: "empty-title", text: "No documents yet" }),
    el("p", { text: "Create one and share its link to write together." }),
  ]);
  const loading = el("p", { className: "list-loading", text: "Loading documents…" });

  const page = el("div", { className: "list-page" }, [
    el("header", { className: "list-header" }, [
      el("div", { className: "brand" }, [
        el("span", { className: "logo", text: "C" }),
        el("h1", { text: "Cowrite" }),
      ]),
      newButton,
    ]),
    el("main", { className: "list-main" }, [
      el("h2", { className: "list-heading", text: "Documents" }),
      error,
      loading,
      list,
      empty,
    ]),
  ]);
  container.replaceChildren(page);
  document.title = "Documents – Cowrite";

  let documents: DocumentMeta[] = [];
  const renderList = (): void => {
    const items = documents.map((meta) => {
      const title = meta.title.trim() || "Untitled";
      const time = el("time", {
        className: "document-time",
        text: `Edited ${formatRelativeTime(meta.updatedAt)}`,
        title: formatDateTime(meta.updatedAt),
      });
      time.dateTime = meta.updatedAt;
      return el("li", { className: "document-item", testid: "document-item" }, [
        el("a", { className: "document-link", href: documentPath(meta.id) }, [
          el("span", { className: "document-icon", text: "¶" }),
          el("span", {
            className: meta.title.trim() ? "document-title" : "document-title is-untitled",
            text: title,
          }),
          time,
        ]),
      ]);
    });
    list.replaceChildren(...items);
    empty.hidden = documents.length > 0;
  };

  const showError = (message: string): void => {
    error.textContent = message;
    error.hidden = false;
  };

  const load = async (): Promise<void> => {
    try {
      const result = await api.listDocuments();
      if (destroyed) return;
      // The server sends newest first; sort anyway so the order never depends on it.
      documents = [...result].sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
      error.hidden = true;
      renderList();
    } catch (reason) {
      if (destroyed) return;
      showError(`Could not load documents: ${(reason as Error).message}`);
    } finally {
      if (!destroyed) loading.hidden = true;
    }
  };

  const onNew = async (): Promise<void> => {
    newButton.disabled = true;
    try {
      const meta = await api.createDocument();
      if (!destroyed) navigate(documentPath(meta.id));
    } catch (reason) {
      if (destroyed) return;
      showError(`Could not create a document: ${(reason as Error).message}`);
      newButton.disabled = false;
    }
  };
  const onNewClick = (): void => {
    void onNew();
  };
  newButton.addEventListener("click", onNewClick);

  const refreshTimer = setInterval(renderList, REFRESH_TIMES_MS);
  // Coming back to the tab: other people may have edited or created documents.
  const onVisible = (): void => {
    if (document.visibilityState === "visible") void load();
  };
  document.addEventListener("visibilitychange", onVisible);
  void load();

  return {
    destroy() {
      destroyed = true;
      clearInterval(refreshTimer);
      document.removeEventListener("visibilitychange", onVisible);
      newButton.removeEventListener("click", onNewClick);
      page.remove();
    },
  };
}
