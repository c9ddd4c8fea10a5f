/**
 * A read-only editor showing one saved version of a document, for the
 * history panel: the version's state in a Y.Doc of its own, bound to a
 * Lexical editor like the live one (same nodes and theme), with a provider
 * that never connects. Nothing it shows can be edited or sent anywhere.
 */
import type { Provider } from "@lexical/yjs";
import { Awareness } from "y-protocols/awareness";
import * as Y from "yjs";
import { bindEditor } from "./binding.ts";
import { createCowriteEditor, registerEditorFeatures } from "./editor.ts";

export interface VersionPreview {
  element: HTMLElement;
  destroy(): void;
}

export function createVersionPreview(state: Uint8Array, label: string): VersionPreview {
  const doc = new Y.Doc();
  const awareness = new Awareness(doc);
  const provider: Provider = {
    awareness: awareness as unknown as Provider["awareness"],
    connect() {},
    disconnect() {},
    on() {},
    off() {},
  };
  const content = document.createElement("div");
  content.className = "cowrite-content version-preview-content";
  content.setAttribute("role", "textbox");
  content.setAttribute("aria-multiline", "true");
  content.setAttribute("aria-label", label);
  content.dataset.testid = "version-preview-content";
  const editor = createCowriteEditor((error) => console.error("[cowrite] preview error", error));
  editor.setRootElement(content);
  const unregister = registerEditorFeatures(editor);
  const binding = bindEditor({
    editor,
    provider,
    doc,
    user: { name: "", color: "" },
    readOnly: true,
  });
  // After binding: the binding turns the applied state into editor content.
  Y.applyUpdate(doc, state);
  return {
    element: content,
    destroy() {
      binding.destroy();
      unregister();
      editor.setRootElement(null);
      awareness.destroy();
      doc.destroy();
    },
  };
}
