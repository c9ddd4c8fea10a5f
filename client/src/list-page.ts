/** The document list at `/`: create a document, open one, see when each last changed. */
import type { DocumentMeta } from "@cowrite/shared";
import { ApiRequestError, type DocumentsApi } from "./api.ts";
import { el } from "./dom.ts";
import { formatDateTime, formatRelativeTime } from "./format.ts";
import { documentPath, type Page } from "./router.ts";
import { decodeTokenClaims, describeAccessError } from "./token.ts";

export interface ListPageOptions {
  api: DocumentsApi;
  navigate: (path: string) => void;
  /** The access token the app was opened with; only its claims are read here (the api sends it). */
  token?: string | null;
}

/** How often relative times ("5 minutes ago") are refreshed. */
const refreshTimesMs = 30_000;

export function mountListPage(
  container: HTMLElement,
  { api, navigate, token = null }: ListPageOptions,
): Page {
  let destroyed = false;
  const newButton = el("button", {
    className: "button button-primary",
    type: "button",
    testid: "new-document",
    text: "New document",
  });
  if (decodeTokenClaims(token)?.permission === "read") {
    // The server would refuse with 403; say so before the click.
    newButton.disabled = true;
    newButton.title = "Your access is view-only";
  }
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
          el("span", { className: "document-icon", text: "¶", ariaHidden: true }),
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
      showError(describeFailure("Could not load documents", reason));
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
      showError(describeFailure("Could not create a document", reason));
      newButton.disabled = false;
    }
  };
  const onNewClick = (): void => {
    void onNew();
  };
  newButton.addEventListener("click", onNewClick);

  const refreshTimer = setInterval(renderList, refreshTimesMs);
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

/** Access problems name themselves ("Sign-in required: ..."); other failures say what failed. */
function describeFailure(action: string, reason: unknown): string {
  if (reason instanceof ApiRequestError && (reason.status === 401 || reason.status === 403)) {
    return describeAccessError(reason.status, reason.message);
  }
  return `${action}: ${(reason as Error).message}`;
}
