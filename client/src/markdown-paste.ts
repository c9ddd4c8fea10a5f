/**
 * Pasting Markdown as plain text (from a text editor, a chat, a README)
 * inserts it formatted, when it clearly is Markdown: a heading, a list, a
 * quote or a code fence, or bold text or a link written the Markdown way.
 * Anything else (or a paste that carries HTML) is left to Lexical's own
 * paste, which keeps plain text as paragraphs.
 */
import { $convertFromMarkdownString, type Transformer } from "@lexical/markdown";
import {
  $createParagraphNode,
  $getSelection,
  $insertNodes,
  $isRangeSelection,
  $setSelection,
  COMMAND_PRIORITY_LOW,
  type LexicalEditor,
  PASTE_COMMAND,
} from "lexical";

const blockSignals = [
  /^#{1,6} \S/m, // heading
  /^```/m, // code fence
  /^> \S/m, // quote
  /^(?:[-*+]|\d+\.) \S.*\n(?:[-*+]|\d+\.) \S/m, // two list items in a row
];
const inlineSignals = [
  /\*\*[^*\n]+\*\*/, // **bold**
  /\[[^\]\n]+\]\((?:https?:\/\/|mailto:)[^)\s]+\)/, // [text](url)
];

/** Whether plain text is clearly Markdown rather than text that happens to hold a `*` or `#`. */
export function looksLikeMarkdown(text: string): boolean {
  const normalized = text.replace(/\r\n?/g, "\n");
  return [...blockSignals, ...inlineSignals].some((signal) => signal.test(normalized));
}

/** Registers the Markdown paste on `editor`; returns the teardown. */
export function registerMarkdownPaste(
  editor: LexicalEditor,
  transformers: Transformer[],
): () => void {
  return editor.registerCommand(
    PASTE_COMMAND,
    (event) => {
      const data = event instanceof ClipboardEvent ? event.clipboardData : null;
      if (data === null || data.types.includes("text/html")) return false;
      const text = data.getData("text/plain");
      if (!looksLikeMarkdown(text)) return false;
      const selection = $getSelection();
      if (!$isRangeSelection(selection)) return false;
      event.preventDefault();
      // Converted in a detached container (which moves the selection into
      // it), then inserted where the caret was.
      const caret = selection.clone();
      const container = $createParagraphNode();
      $convertFromMarkdownString(text, transformers, container);
      $setSelection(caret);
      $insertNodes(container.getChildren());
      return true;
    },
    // Before rich text's own paste handler (COMMAND_PRIORITY_EDITOR).
    COMMAND_PRIORITY_LOW,
  );
}
