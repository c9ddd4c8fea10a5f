/**
 * Reading a stored document's content on the server, without Lexical: the
 * content is Lexical's Yjs shape (see client/src/binding.ts): a top-level
 * Y.XmlText whose delta holds text as strings, each element (paragraph,
 * heading, list item...) as an embedded Y.XmlText, each decorator node as a
 * Y.XmlElement, and text-node properties as embedded Y.Maps.
 */
import { CONTENT_FIELD, TITLE_FIELD } from "@cowrite/shared";
import * as Y from "yjs";

/**
 * Whether someone has written in the document: a title, or any visible text
 * or embedded node in its content. The empty paragraph an editor writes when
 * it first opens a document is not writing.
 */
export function hasWriting(doc: Y.Doc): boolean {
  if (doc.getText(TITLE_FIELD).toString().trim() !== "") return true;
  // Reading through doc.get would define the content type on a document
  // that has none; look first.
  if (!doc.share.has(CONTENT_FIELD)) return false;
  return containsWriting(doc.get(CONTENT_FIELD, Y.XmlText));
}

function containsWriting(element: Y.XmlText): boolean {
  for (const { insert } of element.toDelta() as { insert: unknown }[]) {
    if (typeof insert === "string") {
      if (/\S/.test(insert)) return true;
    } else if (insert instanceof Y.XmlText) {
      if (containsWriting(insert)) return true;
    } else if (insert instanceof Y.XmlElement) {
      return true;
    }
  }
  return false;
}
