/**
 * Restoring a version as a forward edit: the update that turns the current
 * document into the version's content (title and body), applied like anyone
 * else's edit, so everyone sees it at once and nothing of the history is
 * rewritten. The content is copied type by type in Lexical's Yjs shape (see
 * document-content.ts): text with its attributes, elements as Y.XmlText with
 * their attributes, text-node properties as Y.Map, decorators as
 * Y.XmlElement.
 */
import { CONTENT_FIELD, TITLE_FIELD } from "@cowrite/shared";
import * as Y from "yjs";

/** The update that makes `current`'s content that of the full state `version`. */
export function restoreUpdate(current: Y.Doc, version: Uint8Array): Uint8Array {
  const target = new Y.Doc();
  const work = new Y.Doc();
  try {
    Y.applyUpdate(target, version);
    Y.applyUpdate(work, Y.encodeStateAsUpdate(current));
    const before = Y.encodeStateVector(work);
    work.transact(() => {
      const title = work.getText(TITLE_FIELD);
      title.delete(0, title.length);
      title.insert(0, target.getText(TITLE_FIELD).toString());
      const root = work.get(CONTENT_FIELD, Y.XmlText);
      root.delete(0, root.length);
      if (target.share.has(CONTENT_FIELD)) copyText(target.get(CONTENT_FIELD, Y.XmlText), root);
    });
    return Y.encodeStateAsUpdate(work, before);
  } finally {
    target.destroy();
    work.destroy();
  }
}

type Attributes = Record<string, unknown>;

/** Copies `from`'s content and attributes into the (integrated, empty) `to`. */
function copyText(from: Y.XmlText, to: Y.XmlText): void {
  for (const [key, value] of Object.entries(from.getAttributes() as Attributes)) {
    to.setAttribute(key, value as string);
  }
  let index = 0;
  for (const op of from.toDelta() as { insert: unknown; attributes?: Attributes }[]) {
    const attributes = op.attributes ?? {};
    if (typeof op.insert === "string") {
      to.insert(index, op.insert, attributes);
      index += op.insert.length;
      continue;
    }
    if (op.insert instanceof Y.XmlText) {
      const copy = new Y.XmlText();
      to.insertEmbed(index, copy, attributes);
      copyText(op.insert, copy);
    } else if (op.insert instanceof Y.Map) {
      const copy = new Y.Map<unknown>();
      to.insertEmbed(index, copy, attributes);
      copyMap(op.insert, copy);
    } else if (op.insert instanceof Y.XmlElement) {
      const copy = new Y.XmlElement(op.insert.nodeName);
      to.insertEmbed(index, copy, attributes);
      copyElement(op.insert, copy);
    } else {
      to.insertEmbed(index, op.insert as object, attributes);
    }
    index += 1;
  }
}

function copyMap(from: Y.Map<unknown>, to: Y.Map<unknown>): void {
  for (const [key, value] of from.entries()) {
    if (value instanceof Y.Map) {
      const copy = new Y.Map<unknown>();
      to.set(key, copy);
      copyMap(value, copy);
    } else if (value instanceof Y.XmlText) {
      const copy = new Y.XmlText();
      to.set(key, copy);
      copyText(value, copy);
    } else {
      to.set(key, value);
    }
  }
}

function copyElement(from: Y.XmlElement, to: Y.XmlElement): void {
  for (const [key, value] of Object.entries(from.getAttributes() as Attributes)) {
    to.setAttribute(key, value as string);
  }
  from.toArray().forEach((child, index) => {
    if (child instanceof Y.XmlText) {
      const copy = new Y.XmlText();
      to.insert(index, [copy]);
      copyText(child, copy);
    } else if (child instanceof Y.XmlElement) {
      const copy = new Y.XmlElement(child.nodeName);
      to.insert(index, [copy]);
      copyElement(child, copy);
    }
  });
}
