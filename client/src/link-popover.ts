/**
 * The link form the toolbar opens (button or Ctrl/Cmd+K), in place of a
 * browser prompt: a labelled address field, Apply (or Enter), Cancel (or
 * Escape), and in a link its address with Open (new tab) and Remove.
 *
 * Contract: `open()` remembers the editor's selection, because focus moves
 * into the form; applying or removing restores it first, then returns focus
 * to the editor. Addresses pass through `normalizeLinkUrl` (http(s),
 * mailto:, tel:; a bare domain gets https://); others get a visible message
 * and nothing changes.
 */
import { $createLinkNode, $isLinkNode, $toggleLink } from "@lexical/link";
import { $findMatchingParent } from "@lexical/utils";
import {
  $createRangeSelectionFromDom,
  $createTextNode,
  $getSelection,
  $isRangeSelection,
  $setSelection,
  type BaseSelection,
  type LexicalEditor,
} from "lexical";
import { normalizeLinkUrl } from "./editor.ts";

export interface LinkPopover {
  element: HTMLElement;
  open(): void;
  close(): void;
  destroy(): void;
}

export function createLinkPopover(editor: LexicalEditor): LinkPopover {
  // Unique per popover, for the label and message ids (several editors on a page).
  const id = `cowrite-link-${Math.random().toString(36).slice(2, 10)}`;
  const form = document.createElement("form");
  form.className = "link-popover";
  form.setAttribute("role", "dialog");
  form.setAttribute("aria-label", "Link");
  form.noValidate = true;
  form.hidden = true;

  const label = document.createElement("label");
  label.htmlFor = `${id}-url`;
  label.textContent = "Link address";
  const input = document.createElement("input");
  input.id = `${id}-url`;
  input.type = "text";
  input.inputMode = "url";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.placeholder = "https://example.com";
  input.setAttribute("aria-describedby", `${id}-error`);
  const error = document.createElement("p");
  error.id = `${id}-error`;
  error.className = "link-popover-error";
  error.setAttribute("role", "alert");

  const openLink = document.createElement("a");
  openLink.className = "link-popover-open";
  openLink.textContent = "Open";
  openLink.target = "_blank";
  openLink.rel = "noopener noreferrer";
  const remove = button("Remove", "button");
  const cancel = button("Cancel", "button");
  const apply = button("Apply", "submit");
  apply.classList.add("is-primary");
  const actions = document.createElement("div");
  actions.className = "link-popover-actions";
  actions.append(openLink, remove, cancel, apply);
  form.append(label, input, error, actions);

  let saved: BaseSelection | null = null;

  const showError = (message: string): void => {
    error.textContent = message;
    input.setAttribute("aria-invalid", String(message !== ""));
  };

  const close = (refocus: boolean): void => {
    if (form.hidden) return;
    form.hidden = true;
    showError("");
    if (refocus) {
      // Put the remembered selection back, then the caret.
      const selection = saved;
      editor.update(() => {
        if (selection !== null) $setSelection(selection.clone());
      });
      editor.focus();
    }
    saved = null;
  };

  /** Runs `change` on the remembered selection, then closes. */
  const edit = (change: () => void): void => {
    const selection = saved;
    editor.update(() => {
      if (selection !== null) $setSelection(selection.clone());
      change();
    });
    close(true);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const url = normalizeLinkUrl(input.value);
    if (input.value.trim() === "") {
      showError("Enter an address, or use Remove.");
      input.focus();
      return;
    }
    if (url === null) {
      showError("That address is not allowed. Use an http(s), mailto: or tel: address.");
      input.focus();
      return;
    }
    edit(() => {
      const selection = $getSelection();
      if (!$isRangeSelection(selection)) return;
      const link = $currentLink();
      if (selection.isCollapsed()) {
        // A caret: change the link it is in, or insert the address as a new link.
        if (link !== null) link.setURL(url);
        else selection.insertNodes([$createLinkNode(url).append($createTextNode(url))]);
      } else {
        $toggleLink(url);
      }
    });
  });
  remove.addEventListener("click", () => {
    edit(() => $toggleLink(null));
  });
  cancel.addEventListener("click", () => close(true));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    }
  });
  // Focus moving to something else on the page (a click in the text, Tab
  // out) dismisses it. Focus going nowhere (the window lost it, a click on
  // the page's background) keeps it open, as a half-typed address would be
  // lost for nothing.
  form.addEventListener("focusout", (event) => {
    const next = event.relatedTarget;
    if (!(next instanceof Node) || form.contains(next)) return;
    close(false);
  });

  return {
    element: form,
    open() {
      // The browser's selection first: a key that just moved it (Shift+Home)
      // may reach the editor's state only with the next selectionchange.
      const root = editor.getRootElement();
      const domSelection = root?.ownerDocument.getSelection() ?? null;
      if (root !== null && domSelection?.anchorNode && root.contains(domSelection.anchorNode)) {
        editor.update(
          () => {
            const fromDom = $createRangeSelectionFromDom(domSelection, editor);
            if (fromDom !== null) $setSelection(fromDom);
          },
          { discrete: true },
        );
      }
      const current = editor.read(() => {
        saved = $getSelection()?.clone() ?? null;
        return $currentLink()?.getURL() ?? null;
      });
      input.value = current ?? "";
      const safe = current === null ? null : normalizeLinkUrl(current);
      openLink.hidden = safe === null;
      if (safe !== null) openLink.href = safe;
      remove.hidden = current === null;
      showError("");
      form.hidden = false;
      input.focus();
      input.select();
    },
    close: () => close(true),
    destroy() {
      form.remove();
    },
  };
}

function button(text: string, type: "button" | "submit"): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = type;
  element.className = "link-popover-button";
  element.textContent = text;
  return element;
}

/** The link the selection's anchor is in, if any. Call inside a read or update. */
function $currentLink() {
  const selection = $getSelection();
  if (!$isRangeSelection(selection)) return null;
  const link = $findMatchingParent(selection.anchor.getNode(), $isLinkNode);
  return $isLinkNode(link) ? link : null;
}
