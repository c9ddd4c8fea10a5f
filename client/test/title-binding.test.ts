// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { applyTextDiff, bindTitle, diffText, transformIndex } from "../src/title-binding.ts";

function connect(a: Y.Doc, b: Y.Doc): void {
  a.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin !== b) Y.applyUpdate(b, update, a);
  });
  b.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin !== a) Y.applyUpdate(a, update, b);
  });
}

function typeInto(input: HTMLInputElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

describe("title binding", () => {
  it("diffs to the smallest single change", () => {
    expect(diffText("Hello world", "Hello brave world")).toEqual({
      index: 6,
      remove: 0,
      insert: "brave ",
    });
    expect(diffText("Hello world", "Hello")).toEqual({ index: 5, remove: 6, insert: "" });
    expect(diffText("aaa", "aaaa")).toEqual({ index: 3, remove: 0, insert: "a" });
    expect(diffText("", "Title")).toEqual({ index: 0, remove: 0, insert: "Title" });
  });

  it("merges concurrent edits to different parts of the title", () => {
    const alice = new Y.Doc();
    const bob = new Y.Doc();
    applyTextDiff(alice.getText("title"), "Meeting notes", "test");
    Y.applyUpdate(bob, Y.encodeStateAsUpdate(alice));

    // Concurrent, not yet exchanged.
    applyTextDiff(alice.getText("title"), "Weekly meeting notes", "test");
    applyTextDiff(bob.getText("title"), "Meeting notes (draft)", "test");
    Y.applyUpdate(bob, Y.encodeStateAsUpdate(alice, Y.encodeStateVector(bob)));
    Y.applyUpdate(alice, Y.encodeStateAsUpdate(bob, Y.encodeStateVector(alice)));

    // A full replace would have lost one side; minimal diffs keep both.
    expect(alice.getText("title").toString()).toBe("Weekly meeting notes (draft)");
    expect(bob.getText("title").toString()).toBe("Weekly meeting notes (draft)");
  });

  it("keeps two inputs in sync and preserves the local caret on remote edits", () => {
    const alice = new Y.Doc();
    const bob = new Y.Doc();
    connect(alice, bob);
    const aliceInput = document.createElement("input");
    const bobInput = document.createElement("input");
    document.body.append(aliceInput, bobInput);
    const titles: string[] = [];
    const unbindAlice = bindTitle({ text: alice.getText("title"), input: aliceInput });
    const unbindBob = bindTitle({
      text: bob.getText("title"),
      input: bobInput,
      onChange: (title) => titles.push(title),
    });

    typeInto(aliceInput, "Plan");
    expect(bobInput.value).toBe("Plan");

    bobInput.focus();
    bobInput.setSelectionRange(4, 4); // caret after "Plan"
    typeInto(aliceInput, "Q3 Plan");
    expect(bobInput.value).toBe("Q3 Plan");
    expect(bobInput.selectionStart).toBe(7);
    expect(titles.at(-1)).toBe("Q3 Plan");

    unbindAlice();
    unbindBob();
    typeInto(aliceInput, "ignored");
    expect(bob.getText("title").toString()).toBe("Q3 Plan");
  });

  it("moves an index through inserts and deletes before it", () => {
    expect(transformIndex([{ insert: "ab" }], 3)).toBe(5);
    expect(transformIndex([{ retain: 5 }, { insert: "x" }], 3)).toBe(3);
    expect(transformIndex([{ delete: 2 }], 3)).toBe(1);
    expect(transformIndex([{ retain: 1 }, { delete: 5 }], 3)).toBe(1);
  });
});
