/**
 * The document page's Download menu: a button that opens a small menu of
 * formats, each a plain link to the server's export (see README "HTTP
 * API"), so the browser downloads the file itself. A link cannot send an
 * Authorization header, so the access token, if any, rides in `?token=`.
 */
import type { ExportFormat } from "@cowrite/shared";
import { el } from "./dom.ts";

export interface DownloadMenuOptions {
  docId: string;
  token: string | null;
}

const FORMATS: { format: ExportFormat; label: string }[] = [
  { format: "markdown", label: "Markdown (.md)" },
  { format: "html", label: "HTML (.html)" },
  { format: "text", label: "Plain text (.txt)" },
  { format: "json", label: "Lexical JSON (.json)" },
];

export function exportUrl(docId: string, format: ExportFormat, token: string | null): string {
  const params = new URLSearchParams({ format });
  if (token !== null) params.set("token", token);
  return `/api/documents/${encodeURIComponent(docId)}/export?${params}`;
}

export function createDownloadMenu({ docId, token }: DownloadMenuOptions): {
  element: HTMLElement;
  destroy(): void;
} {
  const button = el("button", {
    className: "button download-button",
    type: "button",
    text: "Download",
    testid: "download",
  });
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  const items = FORMATS.map(({ format, label }) => {
    const item = el("a", {
      className: "download-item",
      role: "menuitem",
      text: label,
      href: exportUrl(docId, format, token),
      testid: `download-${format}`,
    });
    item.setAttribute("download", "");
    item.tabIndex = -1;
    return item;
  });
  const menu = el("div", { className: "download-menu", role: "menu", hidden: true }, items);
  menu.setAttribute("aria-label", "Download as");
  const element = el("div", { className: "download" }, [button, menu]);

  const open = (focusFirst: boolean): void => {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    if (focusFirst) items[0]?.focus();
  };
  const close = (refocus: boolean): void => {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  };
  const onButtonClick = (event: MouseEvent): void => {
    if (menu.hidden) open(event.detail === 0);
    else close(false);
  };
  const onMenuKeyDown = (event: KeyboardEvent): void => {
    const index = items.indexOf(document.activeElement as HTMLAnchorElement);
    const move = (to: number) => {
      event.preventDefault();
      items[(to + items.length) % items.length]?.focus();
    };
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    } else if (event.key === "ArrowDown") move(index + 1);
    else if (event.key === "ArrowUp") move(index - 1);
    else if (event.key === "Home") move(0);
    else if (event.key === "End") move(items.length - 1);
  };
  // Choosing a format, or clicking anywhere else, closes the menu.
  const onMenuClick = (): void => close(false);
  const onDocumentPointerDown = (event: PointerEvent): void => {
    if (!element.contains(event.target as Node)) close(false);
  };
  button.addEventListener("click", onButtonClick);
  menu.addEventListener("keydown", onMenuKeyDown);
  menu.addEventListener("click", onMenuClick);
  document.addEventListener("pointerdown", onDocumentPointerDown);

  return {
    element,
    destroy() {
      button.removeEventListener("click", onButtonClick);
      menu.removeEventListener("keydown", onMenuKeyDown);
      menu.removeEventListener("click", onMenuClick);
      document.removeEventListener("pointerdown", onDocumentPointerDown);
    },
  };
}
