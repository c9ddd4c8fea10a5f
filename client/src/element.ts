/**
 * `<cowrite-editor>`: the embeddable editor as a custom element, for pages
 * without a build step. Attributes map to `createEditor` options:
 * `server` (default: this page's origin), `doc`, `token`, `name`, `color`,
 * `readonly`, `toolbar` ("false", or a comma-separated list of button
 * names), `placeholder`. The editor mounts when the element is connected
 * (and has a `doc`), is re-created when an attribute changes, and is
 * destroyed when the element is removed. `element.editor` is the handle.
 */
import { type CowriteEditorHandle, type CowriteEditorOptions, createEditor } from "./embed.ts";
import type { ToolbarButtonName } from "./toolbar.ts";

export const ELEMENT_NAME = "cowrite-editor";

const observed = ["server", "doc", "token", "name", "color", "readonly", "toolbar", "placeholder"];

/** Reads an element's attributes as `createEditor` options; null without a `doc`. */
export function optionsFromAttributes(element: Element): CowriteEditorOptions | null {
  const docId = element.getAttribute("doc");
  if (!docId) return null;
  const attr = (name: string): string | undefined => element.getAttribute(name) ?? undefined;
  const toolbar = attr("toolbar");
  const token = attr("token");
  const placeholder = attr("placeholder");
  return {
    serverUrl: attr("server") || element.ownerDocument.location?.origin || "",
    docId,
    user: { ...withValue("name", attr("name")), ...withValue("color", attr("color")) },
    readOnly: element.hasAttribute("readonly"),
    toolbar:
      toolbar === undefined || toolbar === "" || toolbar === "true"
        ? true
        : toolbar === "false"
          ? false
          : (toolbar
              .split(",")
              .map((name) => name.trim())
              .filter(Boolean) as ToolbarButtonName[]),
    ...(token === undefined ? {} : { token }),
    ...(placeholder === undefined ? {} : { placeholder }),
  };
}

function withValue<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

/** Defines `<cowrite-editor>` once; safe to call again (and where custom elements do not exist). */
export function defineCowriteElement(): void {
  if (typeof customElements === "undefined" || customElements.get(ELEMENT_NAME)) return;

  class CowriteEditorElement extends HTMLElement {
    static observedAttributes = observed;
    editor: CowriteEditorHandle | null = null;

    connectedCallback(): void {
      this.mount();
    }

    disconnectedCallback(): void {
      this.editor?.destroy();
      this.editor = null;
    }

    attributeChangedCallback(_name: string, previous: string | null, next: string | null): void {
      if (previous !== next && this.isConnected) this.mount();
    }

    private mount(): void {
      this.editor?.destroy();
      this.editor = null;
      const options = optionsFromAttributes(this);
      if (options !== null) this.editor = createEditor(this, options);
    }
  }

  customElements.define(ELEMENT_NAME, CowriteEditorElement);
}
