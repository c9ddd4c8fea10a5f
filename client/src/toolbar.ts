/**
 * The formatting toolbar. Buttons reflect the current selection through
 * `aria-pressed`, and Undo/Redo are disabled when the Yjs undo manager has
 * nothing to do (it publishes CAN_UNDO/CAN_REDO, see binding.ts).
 *
 * Keyboard: Ctrl/Cmd+B/I/U come from @lexical/rich-text and Ctrl/Cmd+Z,
 * Shift+Z and Y from Lexical core (both dispatch the commands handled
 * here or in binding.ts); this module adds Ctrl/Cmd+K for links, which
 * opens the link form (link-popover.ts) like the Link button. The toolbar
 * is one tab stop: the arrow keys, Home and End move along its enabled
 * buttons (a roving tabindex, as the ARIA toolbar pattern has it).
 */
import { $createCodeNode, $isCodeNode } from "@lexical/code";
import { $isLinkNode } from "@lexical/link";
import {
  $isListNode,
  INSERT_CHECK_LIST_COMMAND,
  INSERT_ORDERED_LIST_COMMAND,
  INSERT_UNORDERED_LIST_COMMAND,
  ListNode,
  REMOVE_LIST_COMMAND,
} from "@lexical/list";
import {
  $createHeadingNode,
  $createQuoteNode,
  $isHeadingNode,
  $isQuoteNode,
  type HeadingTagType,
} from "@lexical/rich-text";
import { $setBlocksType } from "@lexical/selection";
import { $findMatchingParent, $getNearestNodeOfType } from "@lexical/utils";
import {
  $createParagraphNode,
  $getSelection,
  $isRangeSelection,
  $isRootOrShadowRoot,
  CAN_REDO_COMMAND,
  CAN_UNDO_COMMAND,
  COMMAND_PRIORITY_LOW,
  type ElementNode,
  FORMAT_TEXT_COMMAND,
  KEY_DOWN_COMMAND,
  type LexicalEditor,
  mergeRegister,
  REDO_COMMAND,
  type TextFormatType,
  UNDO_COMMAND,
} from "lexical";
import { createLinkPopover } from "./link-popover.ts";

/** What the toolbar shows about the selection. */
export interface SelectionFormat {
  marks: ReadonlySet<TextFormatType>;
  block: BlockKind;
  isLink: boolean;
}

export type BlockKind =
  | "paragraph"
  | HeadingTagType
  | "bullet"
  | "number"
  | "check"
  | "quote"
  | "code"
  | "other";

interface ButtonSpec {
  name: string;
  label: string;
  /** Short visible text or symbol; the aria-label carries the meaning. */
  text: string;
  shortcut?: string;
  /** SVG path (24x24 viewBox) drawn instead of `text`. */
  icon?: string;
  run: (editor: LexicalEditor, format: SelectionFormat) => void;
  isActive?: (format: SelectionFormat) => boolean;
  /** `run` moves the focus itself (into a form), so the click leaves it there. */
  movesFocus?: boolean;
}

export interface ToolbarOptions {
  /** Show only these buttons (see TOOLBAR_BUTTONS), in the toolbar's order; default all. */
  buttons?: readonly string[];
}

/** Every toolbar button name, in display order. */
export const TOOLBAR_BUTTONS = [
  "undo",
  "redo",
  "h1",
  "h2",
  "h3",
  "bold",
  "italic",
  "underline",
  "strikethrough",
  "code",
  "link",
  "bullet-list",
  "numbered-list",
  "check-list",
  "quote",
  "code-block",
] as const;

export type ToolbarButtonName = (typeof TOOLBAR_BUTTONS)[number];

export interface Toolbar {
  element: HTMLElement;
  destroy(): void;
}

const mod = /Mac|iPhone|iPad/.test(globalThis.navigator?.platform ?? "") ? "⌘" : "Ctrl+";

function markButton(
  name: string,
  label: string,
  text: string,
  mark: TextFormatType,
  key?: string,
): ButtonSpec {
  return {
    name,
    label,
    text,
    ...(key === undefined ? {} : { shortcut: `${mod}${key}` }),
    run: (editor) => editor.dispatchCommand(FORMAT_TEXT_COMMAND, mark),
    isActive: (format) => format.marks.has(mark),
  };
}

function blockButton(
  name: string,
  label: string,
  text: string,
  kind: BlockKind,
  create: () => ElementNode,
): ButtonSpec {
  return {
    name,
    label,
    text,
    isActive: (format) => format.block === kind,
    run: (editor, format) => {
      editor.update(() => {
        const selection = $getSelection();
        if (!$isRangeSelection(selection)) return;
        // Pressing an active block button turns the block back into a paragraph.
        $setBlocksType(selection, format.block === kind ? $createParagraphNode : create);
      });
    },
  };
}

function listButton(
  name: string,
  label: string,
  text: string,
  kind: "bullet" | "number" | "check",
): ButtonSpec {
  const command = {
    bullet: INSERT_UNORDERED_LIST_COMMAND,
    number: INSERT_ORDERED_LIST_COMMAND,
    check: INSERT_CHECK_LIST_COMMAND,
  }[kind];
  return {
    name,
    label,
    text,
    isActive: (format) => format.block === kind,
    run: (editor, format) => {
      if (format.block === kind) editor.dispatchCommand(REMOVE_LIST_COMMAND, undefined);
      else editor.dispatchCommand(command, undefined);
    },
  };
}

export function createToolbar(editor: LexicalEditor, options: ToolbarOptions = {}): Toolbar {
  const linkPopover = createLinkPopover(editor);
  const editLink = (): void => {
    if (editor.isEditable()) linkPopover.open();
  };

  const allGroups: ButtonSpec[][] = [
    [
      {
        name: "undo",
        label: "Undo",
        text: "↶",
        shortcut: `${mod}Z`,
        run: () => editor.dispatchCommand(UNDO_COMMAND, undefined),
      },
      {
        name: "redo",
        label: "Redo",
        text: "↷",
        shortcut: mod === "⌘" ? "⇧⌘Z" : "Ctrl+Y",
        run: () => editor.dispatchCommand(REDO_COMMAND, undefined),
      },
    ],
    [
      blockButton("h1", "Heading 1", "H1", "h1", () => $createHeadingNode("h1")),
      blockButton("h2", "Heading 2", "H2", "h2", () => $createHeadingNode("h2")),
      blockButton("h3", "Heading 3", "H3", "h3", () => $createHeadingNode("h3")),
    ],
    [
      markButton("bold", "Bold", "B", "bold", "B"),
      markButton("italic", "Italic", "I", "italic", "I"),
      markButton("underline", "Underline", "U", "underline", "U"),
      markButton("strikethrough", "Strikethrough", "S", "strikethrough"),
      markButton("code", "Inline code", "</>", "code"),
      {
        name: "link",
        label: "Link",
        // No emoji font is guaranteed (offline machines), so the link icon is drawn.
        text: "",
        icon: linkIconPath,
        shortcut: `${mod}K`,
        run: editLink,
        isActive: (format) => format.isLink,
        movesFocus: true,
      },
    ],
    [
      listButton("bullet-list", "Bulleted list", "•", "bullet"),
      listButton("numbered-list", "Numbered list", "1.", "number"),
      listButton("check-list", "Check list", "☑", "check"),
      blockButton("quote", "Quote", "❝", "quote", () => $createQuoteNode()),
      blockButton("code-block", "Code block", "{ }", "code", () => $createCodeNode()),
    ],
  ];

  const wanted = options.buttons === undefined ? null : new Set(options.buttons);
  const groups = allGroups
    .map((group) => group.filter((spec) => wanted === null || wanted.has(spec.name)))
    .filter((group) => group.length > 0);

  const element = document.createElement("div");
  element.className = "toolbar";
  element.setAttribute("role", "toolbar");
  element.setAttribute("aria-label", "Formatting");

  // The groups wrap inside a box of their own, which clips the separator of a
  // group that starts a row (see editor.css).
  const groupsElement = document.createElement("div");
  groupsElement.className = "toolbar-groups";
  element.append(groupsElement);

  let format: SelectionFormat = { marks: new Set(), block: "paragraph", isLink: false };
  const buttons = new Map<string, { spec: ButtonSpec; button: HTMLButtonElement }>();

  for (const group of groups) {
    const groupElement = document.createElement("div");
    groupElement.className = "toolbar-group";
    for (const spec of group) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `toolbar-button toolbar-button-${spec.name}`;
      // The glyph ("H1", "1.") is an icon drawn by CSS from data-glyph: the
      // button's name is its label alone, as for the drawn icons.
      if (spec.icon === undefined) {
        button.dataset.glyph = spec.text;
      } else {
        button.append(createIcon(spec.icon));
      }
      button.tabIndex = -1;
      button.dataset.testid = `toolbar-${spec.name}`;
      button.setAttribute("aria-label", spec.label);
      button.title = spec.shortcut === undefined ? spec.label : `${spec.label} (${spec.shortcut})`;
      if (spec.isActive !== undefined) button.setAttribute("aria-pressed", "false");
      // Keep the editor's selection: a mousedown on a button would blur it.
      button.addEventListener("mousedown", (event) => event.preventDefault());
      button.addEventListener("click", () => {
        spec.run(editor, format);
        if (!spec.movesFocus) editor.focus();
      });
      groupElement.append(button);
      buttons.set(spec.name, { spec, button });
    }
    groupsElement.append(groupElement);
  }
  // Ctrl/Cmd+K opens it even where the Link button is not shown.
  element.append(linkPopover.element);

  // ---- keyboard: one tab stop, arrows along the toolbar (roving tabindex) ----
  const allButtons = [...buttons.values()].map(({ button }) => button);
  let current: HTMLButtonElement | null = null;
  const reachable = (): HTMLButtonElement[] => allButtons.filter((button) => !button.disabled);
  /** Makes `button` the toolbar's tab stop (the first reachable one if it cannot be). */
  const setCurrent = (button: HTMLButtonElement | null): void => {
    const candidates = reachable();
    const next = button !== null && candidates.includes(button) ? button : (candidates[0] ?? null);
    if (current !== null && current !== next) current.tabIndex = -1;
    current = next;
    if (current !== null) current.tabIndex = 0;
  };
  groupsElement.addEventListener("focusin", (event) => {
    if (event.target instanceof HTMLButtonElement) setCurrent(event.target);
  });
  groupsElement.addEventListener("keydown", (event) => {
    const candidates = reachable();
    const at = current === null ? -1 : candidates.indexOf(current);
    let target: HTMLButtonElement | undefined;
    if (event.key === "ArrowRight") target = candidates[(at + 1) % candidates.length];
    else if (event.key === "ArrowLeft")
      target = candidates[(at - 1 + candidates.length) % candidates.length];
    else if (event.key === "Home") target = candidates[0];
    else if (event.key === "End") target = candidates.at(-1);
    if (target === undefined) return;
    event.preventDefault();
    setCurrent(target);
    target.focus();
  });

  const undoButton = buttons.get("undo")?.button;
  const redoButton = buttons.get("redo")?.button;
  let canUndo = false;
  let canRedo = false;

  // A non-editable editor (loading, or a view-only user) disables every button.
  const render = (): void => {
    const editable = editor.isEditable();
    element.setAttribute("aria-disabled", String(!editable));
    for (const { spec, button } of buttons.values()) {
      if (spec.isActive !== undefined) {
        button.setAttribute("aria-pressed", String(spec.isActive(format)));
        button.disabled = !editable;
      }
    }
    if (undoButton) undoButton.disabled = !editable || !canUndo;
    if (redoButton) redoButton.disabled = !editable || !canRedo;
    // The tab stop moves off a button that just became disabled.
    setCurrent(current);
  };

  const unregister = mergeRegister(
    editor.registerUpdateListener(({ editorState }) => {
      format = editorState.read(() => readSelectionFormat());
      render();
    }),
    editor.registerEditableListener(render),
    editor.registerCommand(
      CAN_UNDO_COMMAND,
      (payload) => {
        canUndo = payload;
        render();
        return false;
      },
      COMMAND_PRIORITY_LOW,
    ),
    editor.registerCommand(
      CAN_REDO_COMMAND,
      (payload) => {
        canRedo = payload;
        render();
        return false;
      },
      COMMAND_PRIORITY_LOW,
    ),
    editor.registerCommand(
      KEY_DOWN_COMMAND,
      (event) => {
        const isModified = event.metaKey || event.ctrlKey;
        if (!isModified || event.altKey || event.shiftKey || event.key.toLowerCase() !== "k") {
          return false;
        }
        event.preventDefault();
        editLink();
        return true;
      },
      COMMAND_PRIORITY_LOW,
    ),
  );
  render();

  return {
    element,
    destroy() {
      unregister();
      linkPopover.destroy();
      element.remove();
    },
  };
}

const linkIconPath =
  "M10.6 13.4a1 1 0 0 1 0-1.4l3.5-3.5a1 1 0 1 1 1.4 1.4l-3.5 3.5a1 1 0 0 1-1.4 0Zm-2.1 5.3a4 4 0 0 1-5.7-5.7l2.9-2.8a1 1 0 0 1 1.4 1.4L4.2 14.4a2 2 0 0 0 2.9 2.9l2.8-2.9a1 1 0 0 1 1.4 1.4l-2.8 2.9Zm8.9-4.8a1 1 0 0 1-1.4-1.4l2.8-2.9a2 2 0 0 0-2.9-2.9l-2.8 2.9a1 1 0 0 1-1.4-1.4l2.8-2.9a4 4 0 0 1 5.7 5.7l-2.8 2.9Z";

function createIcon(path: string): SVGSVGElement {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("fill", "currentColor");
  const shape = document.createElementNS(svgNs, "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}

/** Reads the selection's marks, block kind and link state. Call inside a read or update. */
export function readSelectionFormat(): SelectionFormat {
  const selection = $getSelection();
  if (!$isRangeSelection(selection)) {
    return { marks: new Set(), block: "other", isLink: false };
  }
  const marks = new Set<TextFormatType>();
  for (const mark of ["bold", "italic", "underline", "strikethrough", "code"] as const) {
    if (selection.hasFormat(mark)) marks.add(mark);
  }
  const anchorNode = selection.anchor.getNode();
  const block =
    anchorNode.getKey() === "root"
      ? null
      : $findMatchingParent(anchorNode, (node) => {
          const parent = node.getParent();
          return parent !== null && $isRootOrShadowRoot(parent);
        });
  return {
    marks,
    block: blockKindOf(block as ElementNode | null, anchorNode),
    isLink: currentLinkUrl() !== null,
  };
}

function blockKindOf(
  topLevel: ElementNode | null,
  anchorNode: ReturnType<typeof $findMatchingParent>,
): BlockKind {
  if (topLevel === null || anchorNode === null) return "paragraph";
  if ($isListNode(topLevel)) {
    // Nested lists: the innermost list decides what the user is editing.
    const list = $getNearestNodeOfType(anchorNode, ListNode) ?? topLevel;
    return list.getListType();
  }
  if ($isHeadingNode(topLevel)) return topLevel.getTag();
  if ($isQuoteNode(topLevel)) return "quote";
  if ($isCodeNode(topLevel)) return "code";
  if (topLevel.getType() === "paragraph") return "paragraph";
  return "other";
}

function currentLinkUrl(): string | null {
  const selection = $getSelection();
  if (!$isRangeSelection(selection)) return null;
  const link = $findMatchingParent(selection.anchor.getNode(), $isLinkNode);
  return $isLinkNode(link) ? link.getURL() : null;
}
