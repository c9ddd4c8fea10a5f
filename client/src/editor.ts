/**
 * The Lexical editor Cowrite uses: which nodes exist, how they look (theme
 * class names styled in editor.css) and which behaviours are registered.
 * History is deliberately absent: the Yjs undo manager in binding.ts
 * replaces it so undo only reverts the local user's edits.
 */
import { $toggleLink, TOGGLE_LINK_COMMAND } from "@lexical/link";
import { registerCheckList, registerList } from "@lexical/list";
import { registerMarkdownShortcuts } from "@lexical/markdown";
import { registerRichText } from "@lexical/rich-text";
import {
  $getNearestNodeFromDOMNode,
  COMMAND_PRIORITY_EDITOR,
  createEditor,
  type EditorThemeClasses,
  type LexicalEditor,
  mergeRegister,
} from "lexical";
import { EDITOR_NODES, MARKDOWN_TRANSFORMERS } from "./editor-nodes.ts";
import { registerMarkdownPaste } from "./markdown-paste.ts";

export { EDITOR_NODES, MARKDOWN_TRANSFORMERS };

export const EDITOR_THEME: EditorThemeClasses = {
  paragraph: "cw-paragraph",
  quote: "cw-quote",
  heading: { h1: "cw-h1", h2: "cw-h2", h3: "cw-h3", h4: "cw-h4", h5: "cw-h5", h6: "cw-h6" },
  list: {
    ul: "cw-ul",
    ol: "cw-ol",
    checklist: "cw-checklist",
    listitem: "cw-li",
    listitemChecked: "cw-li-checked",
    listitemUnchecked: "cw-li-unchecked",
    nested: { listitem: "cw-li-nested" },
  },
  link: "cw-link",
  code: "cw-code-block",
  text: {
    bold: "cw-bold",
    italic: "cw-italic",
    underline: "cw-underline",
    strikethrough: "cw-strike",
    underlineStrikethrough: "cw-underline-strike",
    code: "cw-code",
  },
};

export function createCowriteEditor(onError: (error: Error) => void): LexicalEditor {
  return createEditor({
    namespace: "cowrite",
    theme: EDITOR_THEME,
    nodes: EDITOR_NODES,
    onError,
    // The first sync decides the content; until then there is nothing to edit.
    editable: false,
  });
}

/** Registers rich-text behaviour on `editor`; returns the teardown. */
export function registerEditorFeatures(editor: LexicalEditor): () => void {
  return mergeRegister(
    registerRichText(editor),
    registerList(editor),
    registerCheckList(editor),
    registerMarkdownShortcuts(editor, MARKDOWN_TRANSFORMERS),
    registerMarkdownPaste(editor, MARKDOWN_TRANSFORMERS),
    editor.registerCommand(
      TOGGLE_LINK_COMMAND,
      (payload) => {
        if (payload === null) $toggleLink(null);
        else if (typeof payload === "string") $toggleLink(payload);
        else $toggleLink(payload.url, payload);
        return true;
      },
      COMMAND_PRIORITY_EDITOR,
    ),
    editor.registerRootListener((root, previous) => {
      previous?.removeEventListener("click", onLinkClick);
      root?.addEventListener("click", onLinkClick);
      syncContentEditable();
    }),
    // Without @lexical/react nothing mirrors the editable flag onto the DOM.
    editor.registerEditableListener(syncContentEditable),
  );

  function syncContentEditable(): void {
    const root = editor.getRootElement();
    if (root === null) return;
    const editable = editor.isEditable();
    root.contentEditable = String(editable);
    root.setAttribute("aria-readonly", String(!editable));
  }

  /** Links inside an editable area are not followable by a plain click; Ctrl/Cmd+click opens them. */
  function onLinkClick(event: MouseEvent): void {
    if (!(event.metaKey || event.ctrlKey) || !(event.target instanceof Element)) return;
    const anchor = event.target.closest("a");
    if (anchor === null) return;
    const isInEditor = editor.read(() => $getNearestNodeFromDOMNode(anchor) !== null);
    if (!isInEditor) return;
    event.preventDefault();
    window.open(anchor.href, "_blank", "noopener,noreferrer");
  }
}

/**
 * Makes a URL typed by a user safe and absolute: bare domains get https://,
 * javascript: and other script schemes are refused (returns null).
 */
export function normalizeLinkUrl(input: string): string | null {
  const trimmed = input.trim();
  if (trimmed === "") return null;
  const withScheme =
    /^[a-z][a-z0-9+.-]*:/i.test(trimmed) || trimmed.startsWith("/") || trimmed.startsWith("#")
      ? trimmed
      : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme, window.location.href);
  } catch {
    return null;
  }
  return ["http:", "https:", "mailto:", "tel:"].includes(url.protocol) ? withScheme : null;
}
