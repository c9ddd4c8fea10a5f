/**
 * The Lexical nodes and Markdown transformers of a Cowrite document, with
 * nothing that needs a browser: the editor (editor.ts) and the server's
 * export and import (server/src/document-format.ts) both use them, so a
 * document converts with exactly the nodes people write it with.
 */
import { CodeHighlightNode, CodeNode } from "@lexical/code";
import { AutoLinkNode, LinkNode } from "@lexical/link";
import { ListItemNode, ListNode } from "@lexical/list";
import { CHECK_LIST, TRANSFORMERS } from "@lexical/markdown";
import { HeadingNode, QuoteNode } from "@lexical/rich-text";

/** Node classes the editor (and every peer's editor) must know to decode the shared doc. */
export const EDITOR_NODES = [
  HeadingNode,
  QuoteNode,
  ListNode,
  ListItemNode,
  LinkNode,
  AutoLinkNode,
  CodeNode,
  CodeHighlightNode,
];

/** `- [ ] ` must be tried before `- ` or it would become a bullet. */
export const MARKDOWN_TRANSFORMERS = [CHECK_LIST, ...TRANSFORMERS];
