/**
 * Turns an embedder's `initialContent` option into the deterministic
 * bootstrap write of binding.ts: plain text (one paragraph per line) or
 * Markdown (the editor's own transformers). The key names the format and
 * the input, so equal input on two clients gives equal Yjs structs.
 */
import { $convertFromMarkdownString } from "@lexical/markdown";
import { $createParagraphNode, $createTextNode, $getRoot } from "lexical";
import type { InitialContent } from "./binding.ts";
import { MARKDOWN_TRANSFORMERS } from "./editor.ts";

/** A string is plain text, one paragraph per line. */
export type InitialContentInput = string | { text: string } | { markdown: string };

export function toInitialContent(
  input: InitialContentInput | undefined,
): InitialContent | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== "string" && "markdown" in input) {
    const markdown = input.markdown;
    return {
      key: `markdown\n${markdown}`,
      write: () => $convertFromMarkdownString(markdown, MARKDOWN_TRANSFORMERS),
    };
  }
  const text = typeof input === "string" ? input : input.text;
  return {
    key: `text\n${text}`,
    write: () => {
      const root = $getRoot();
      for (const line of text.split(/\r?\n/)) {
        const paragraph = $createParagraphNode();
        if (line !== "") paragraph.append($createTextNode(line));
        root.append(paragraph);
      }
    },
  };
}
