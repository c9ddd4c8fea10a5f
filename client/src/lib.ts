/**
 * The Cowrite embedding library (built to dist-lib/cowrite.js, and
 * cowrite.css from editor.css). Importing it defines the `<cowrite-editor>`
 * element.
 */
import { defineCowriteElement } from "./element.ts";

export { defineCowriteElement, ELEMENT_NAME } from "./element.ts";
export {
  type ConnectionState,
  type CowriteEditorEvents,
  type CowriteEditorHandle,
  type CowriteEditorOptions,
  createEditor,
  type InitialContentInput,
  type PresenceUser,
  type TokenSource,
  type ToolbarButtonName,
  toWebSocketUrl,
} from "./embed.ts";
export { TOOLBAR_BUTTONS } from "./toolbar.ts";

defineCowriteElement();
