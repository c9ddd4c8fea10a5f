/**
 * Binds an <input> to the document's shared title (a Y.Text). Local typing
 * is applied as the smallest delete+insert, so two people editing different
 * parts of the title at once both keep their changes; remote changes update
 * the input while keeping the local caret where it was in the text.
 */
import type * as Y from "yjs";

/** Transaction origin of title edits made through the input. */
export const TITLE_INPUT_ORIGIN = { name: "cowrite-title-input" };

export interface TextDiff {
  index: number;
  remove: number;
  insert: string;
}

/** The single-range change turning `previous` into `next` (common prefix and suffix kept). */
export function diffText(previous: string, next: string): TextDiff {
  let start = 0;
  const maxStart = Math.min(previous.length, next.length);
  while (start < maxStart && previous[start] === next[start]) start += 1;
  let end = 0;
  const maxEnd = Math.min(previous.length, next.length) - start;
  while (end < maxEnd && previous[previous.length - 1 - end] === next[next.length - 1 - end]) {
    end += 1;
  }
  // Never split a UTF-16 surrogate pair.
  if (start > 0 && isHighSurrogate(next.charCodeAt(start - 1))) start -= 1;
  return {
    index: start,
    remove: previous.length - start - end,
    insert: next.slice(start, next.length - end),
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Applies the minimal diff from the Y.Text's value to `next`. */
export function applyTextDiff(text: Y.Text, next: string, origin: unknown): void {
  const { index, remove, insert } = diffText(text.toString(), next);
  if (remove === 0 && insert === "") return;
  const apply = (): void => {
    if (remove > 0) text.delete(index, remove);
    if (insert !== "") text.insert(index, insert);
  };
  if (text.doc) text.doc.transact(apply, origin);
  else apply();
}

/** Where `index` ends up after a Y.Text delta is applied. */
export function transformIndex(delta: Y.YTextEvent["delta"], index: number): number {
  let position = 0;
  let result = index;
  for (const op of delta) {
    if (position > result) break;
    if (op.retain !== undefined) {
      position += op.retain;
    } else if (op.insert !== undefined) {
      const length = typeof op.insert === "string" ? op.insert.length : 1;
      // Text inserted exactly at the caret goes before it (as for the other user).
      if (position <= result) result += length;
      position += length;
    } else if (op.delete !== undefined) {
      result -= Math.min(op.delete, Math.max(0, result - position));
    }
  }
  return result;
}

export interface TitleBindingOptions {
  text: Y.Text;
  input: HTMLInputElement;
  /** Called with the current title after every change, local or remote. */
  onChange?: (title: string) => void;
}

export function bindTitle({ text, input, onChange }: TitleBindingOptions): () => void {
  input.value = text.toString();
  onChange?.(input.value);

  const onInput = (): void => {
    // While an IME composes, the input holds provisional text; wait for the end.
    if (isComposing) return;
    applyTextDiff(text, input.value, TITLE_INPUT_ORIGIN);
  };
  let isComposing = false;
  const onCompositionStart = (): void => {
    isComposing = true;
  };
  const onCompositionEnd = (): void => {
    isComposing = false;
    onInput();
  };

  const onTextChange = (event: Y.YTextEvent, transaction: Y.Transaction): void => {
    const value = text.toString();
    if (transaction.origin !== TITLE_INPUT_ORIGIN && input.value !== value) {
      const hasFocus = input.ownerDocument.activeElement === input;
      const start = input.selectionStart;
      const end = input.selectionEnd;
      input.value = value;
      if (hasFocus && start !== null && end !== null) {
        input.setSelectionRange(
          transformIndex(event.delta, start),
          transformIndex(event.delta, end),
        );
      }
    }
    onChange?.(value);
  };

  input.addEventListener("input", onInput);
  input.addEventListener("compositionstart", onCompositionStart);
  input.addEventListener("compositionend", onCompositionEnd);
  text.observe(onTextChange);
  return () => {
    input.removeEventListener("input", onInput);
    input.removeEventListener("compositionstart", onCompositionStart);
    input.removeEventListener("compositionend", onCompositionEnd);
    text.unobserve(onTextChange);
  };
}
