/**
 * The version history of a document, beside it on the document page: the
 * saved versions (automatic ones after a pause in editing, and named ones
 * from "Save version") with time and authors; a read-only preview of one
 * beside the live document; and restoring one, which the server applies as
 * an edit everyone sees at once (what it replaces is kept as a version, so
 * a restore can itself be restored away).
 */
import type { DocumentVersion } from "@cowrite/shared";
import { TITLE_MAX_LENGTH } from "@cowrite/shared";
import { ApiRequestError, type DocumentsApi } from "./api.ts";
import { el, iconButton } from "./dom.ts";
import { formatDateTime, formatRelativeTime } from "./format.ts";
import { createVersionPreview, type VersionPreview } from "./version-preview.ts";

export interface HistoryPanelOptions {
  api: DocumentsApi;
  docId: string;
  /** Whether this user may save and restore versions (not with a view-only token). */
  canWrite: boolean;
}

export interface HistoryPanel {
  /** The header button that opens and closes the panel. */
  toggle: HTMLButtonElement;
  /** The panel itself (the list, and a preview when one is open). */
  element: HTMLElement;
  destroy(): void;
}

/** While open, the list is refreshed this often (others save versions too). */
const refreshMs = 30_000;

export function createHistoryPanel({ api, docId, canWrite }: HistoryPanelOptions): HistoryPanel {
  let destroyed = false;
  const toggle = el("button", {
    className: "button history-toggle",
    type: "button",
    text: "History",
    testid: "history-toggle",
  });
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", "history-panel");

  const nameInput = el("input", {
    className: "history-name",
    type: "text",
    placeholder: "Name this version",
    ariaLabel: "Version name",
    maxLength: TITLE_MAX_LENGTH,
    testid: "version-name",
  });
  const saveButton = el("button", {
    className: "button button-primary",
    type: "submit",
    text: "Save version",
  });
  const saveForm = el("form", { className: "history-save" }, [nameInput, saveButton]);
  saveForm.hidden = !canWrite;
  const message = el("p", {
    className: "history-message",
    role: "status",
    testid: "history-message",
  });
  const list = el("ol", {
    className: "history-list",
    ariaLabel: "Versions, newest first",
    testid: "history-list",
  });
  const empty = el("p", {
    className: "history-empty",
    text: "No versions yet. One is saved after each pause in editing.",
    hidden: true,
  });
  const closeButton = iconButton({ glyph: "×", label: "Close history", title: "Close" });
  const previewSlot = el("section", {
    className: "version-preview",
    hidden: true,
    testid: "version-preview",
  });

  const element = el("aside", { className: "history-panel", hidden: true }, [
    el("div", { className: "history-head" }, [
      el("h2", { className: "history-title", text: "Version history" }),
      closeButton,
    ]),
    saveForm,
    message,
    list,
    empty,
    previewSlot,
  ]);
  element.id = "history-panel";
  element.setAttribute("aria-label", "Version history");
  element.dataset.testid = "history-panel";

  let versions: DocumentVersion[] = [];
  let preview: { version: DocumentVersion; view: VersionPreview } | null = null;
  let confirming: number | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;

  const say = (text: string): void => {
    message.textContent = text;
  };
  const failed = (action: string, reason: unknown): void => {
    const detail = reason instanceof ApiRequestError ? reason.message : String(reason);
    say(`${action}: ${detail}`);
  };

  const describe = (version: DocumentVersion): string =>
    version.name ?? `Version of ${formatDateTime(version.createdAt)}`;

  const render = (): void => {
    list.replaceChildren(...versions.map(renderItem));
    empty.hidden = versions.length > 0;
  };

  const renderItem = (version: DocumentVersion): HTMLLIElement => {
    const time = el("time", {
      className: "history-time",
      text: formatRelativeTime(version.createdAt),
      title: formatDateTime(version.createdAt),
    });
    time.dateTime = version.createdAt;
    const name = el("span", {
      className: version.name ? "history-version-name" : "history-version-name is-automatic",
      text: version.name ?? "Automatic version",
    });
    const authors = el("span", {
      className: "history-authors",
      text: version.authors.length > 0 ? `Edited by ${version.authors.join(", ")}` : "",
    });
    const item = el("li", { className: "history-item", testid: "history-item" }, [
      el("div", { className: "history-item-text" }, [name, time, authors]),
    ]);
    item.dataset.versionId = String(version.id);
    const showButton = el("button", {
      className: "button history-action",
      type: "button",
      text: "Preview",
      ariaLabel: `Preview ${describe(version)}`,
    });
    showButton.addEventListener("click", () => void showPreview(version));
    const actions = el("div", { className: "history-actions" }, [showButton]);
    if (canWrite) {
      if (confirming === version.id) {
        const yes = el("button", {
          className: "button button-danger history-action",
          type: "button",
          text: "Restore",
          testid: "confirm-restore",
        });
        const no = el("button", {
          className: "button history-action",
          type: "button",
          text: "Cancel",
        });
        yes.addEventListener("click", () => void restore(version));
        no.addEventListener("click", () => {
          confirming = null;
          render();
        });
        actions.replaceChildren(
          el("p", {
            className: "history-confirm",
            text: "Everyone will see the document as it was then. The current text is kept as a version.",
          }),
          yes,
          no,
        );
        queueMicrotask(() => no.focus());
      } else {
        const restoreButton = el("button", {
          className: "button history-action",
          type: "button",
          text: "Restore",
          ariaLabel: `Restore ${describe(version)}`,
        });
        restoreButton.addEventListener("click", () => {
          confirming = version.id;
          render();
        });
        actions.append(restoreButton);
      }
    }
    item.append(actions);
    return item;
  };

  const refresh = async (): Promise<void> => {
    try {
      const found = await api.listVersions(docId);
      if (destroyed) return;
      versions = found;
      render();
    } catch (reason) {
      if (!destroyed) failed("Could not load the versions", reason);
    }
  };

  const closePreview = (): void => {
    preview?.view.destroy();
    preview = null;
    previewSlot.replaceChildren();
    previewSlot.hidden = true;
  };

  const showPreview = async (version: DocumentVersion): Promise<void> => {
    try {
      const { state } = await api.getVersion(docId, version.id);
      if (destroyed) return;
      closePreview();
      const label = `Preview of ${describe(version)}`;
      const view = createVersionPreview(state, label);
      preview = { version, view };
      const close = el("button", { className: "button", type: "button", text: "Close preview" });
      close.addEventListener("click", closePreview);
      previewSlot.setAttribute("aria-label", label);
      previewSlot.replaceChildren(
        el("div", { className: "version-preview-head" }, [
          el("h3", { className: "version-preview-title", text: describe(version) }),
          close,
        ]),
        el("div", { className: "page version-preview-page" }, [view.element]),
      );
      previewSlot.hidden = false;
    } catch (reason) {
      if (!destroyed) failed("Could not open the version", reason);
    }
  };

  const restore = async (version: DocumentVersion): Promise<void> => {
    confirming = null;
    render();
    say("Restoring…");
    try {
      await api.restoreVersion(docId, version.id);
      if (destroyed) return;
      say(`Restored “${describe(version)}”.`);
      closePreview();
      await refresh();
    } catch (reason) {
      if (!destroyed) failed("Could not restore the version", reason);
    }
  };

  saveForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (name === "") {
      say("Give the version a name.");
      nameInput.focus();
      return;
    }
    saveButton.disabled = true;
    api.saveVersion(docId, name).then(
      (saved) => {
        if (destroyed) return;
        nameInput.value = "";
        say(`Saved “${saved.name}”.`);
        saveButton.disabled = false;
        void refresh();
      },
      (reason: unknown) => {
        if (destroyed) return;
        saveButton.disabled = false;
        failed("Could not save the version", reason);
      },
    );
  });

  const setOpen = (open: boolean): void => {
    element.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (timer !== null) clearInterval(timer);
    timer = null;
    if (open) {
      void refresh();
      timer = setInterval(() => void refresh(), refreshMs);
      (canWrite ? nameInput : closeButton).focus();
    } else {
      closePreview();
      toggle.focus();
    }
  };
  toggle.addEventListener("click", () => setOpen(element.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  element.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      setOpen(false);
    }
  });

  return {
    toggle,
    element,
    destroy() {
      destroyed = true;
      if (timer !== null) clearInterval(timer);
      closePreview();
      element.remove();
    },
  };
}
