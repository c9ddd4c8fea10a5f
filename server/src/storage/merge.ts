import * as Y from "yjs";

/**
 * Merges a log of updates into one, garbage-collecting deleted content, so a
 * document that received a million small updates loads as a single update.
 * (`Y.mergeUpdates` alone would keep every deleted item.)
 */
export function mergeUpdateLog(updates: readonly Uint8Array[]): Uint8Array {
  const doc = new Y.Doc({ gc: true });
  try {
    doc.transact(() => {
      for (const update of updates) Y.applyUpdate(doc, update);
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
