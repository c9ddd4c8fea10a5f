import type { Page } from "@playwright/test";
import { expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

/** Undoes until the undo manager has nothing left (typing may span several undo steps). */
async function undoEverything(page: Page): Promise<void> {
  const undo = page.getByTestId("toolbar-undo");
  await expect(undo).toBeEnabled();
  // The button's state is updated synchronously by the click, so reading it right after is exact.
  while (await undo.isEnabled()) await undo.click();
}

test("undo removes only the user's own edit, not the other user's", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Alice's line");
  await expect(paragraphsOf(bob)).toHaveText(["Alice's line"]);

  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("Bob's line");
  await expect(paragraphsOf(alice)).toHaveText(["Alice's line", "Bob's line"]);

  await undoEverything(alice);

  await expect(paragraphsOf(alice)).toHaveText(["", "Bob's line"]);
  await expect(paragraphsOf(bob)).toHaveText(["", "Bob's line"]);
});

test("Ctrl+Z undoes the user's own typing while the other user's text stays", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.type("Bob first.");
  await expect(paragraphsOf(alice)).toHaveText(["Bob first."]);

  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  // One input event: a single undo step.
  await alice.keyboard.insertText(" Alice next.");
  await expect(paragraphsOf(bob)).toHaveText(["Bob first. Alice next."]);

  await alice.keyboard.press("Control+z");

  await expect(paragraphsOf(alice)).toHaveText(["Bob first."]);
  await expect(paragraphsOf(bob)).toHaveText(["Bob first."]);
  await expect(alice.getByTestId("toolbar-undo")).toBeDisabled();
});

test("undoing a paragraph one created keeps the text someone else typed into it", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Alice's line");
  await alice.keyboard.press("Enter");
  await expect(paragraphsOf(bob)).toHaveText(["Alice's line", ""]);

  // Bob writes into the empty paragraph Alice's Enter made.
  await placeCaretAtEnd(bob, paragraphsOf(bob).nth(1));
  await bob.keyboard.type("Bob's sentence.");
  await expect(paragraphsOf(alice)).toHaveText(["Alice's line", "Bob's sentence."]);

  await alice.keyboard.press("Control+z");
  await expect(alice.getByTestId("toolbar-undo")).toBeDisabled();
  // Alice's own typing is gone; Bob's words are not, for either of them.
  await expect(paragraphsOf(alice)).toContainText(["Bob's sentence."]);
  await expect(paragraphsOf(alice).filter({ hasText: "Alice" })).toHaveCount(0);
  await expect(paragraphsOf(bob)).toContainText(["Bob's sentence."]);
  const afterUndo = await paragraphsOf(alice).allTextContents();
  await expect(paragraphsOf(bob)).toHaveText(afterUndo);

  // Redo brings Alice's line back, and both still agree.
  await alice.keyboard.press("Control+Shift+z");
  await expect(paragraphsOf(alice).filter({ hasText: "Alice's line" })).toHaveCount(1);
  await expect(paragraphsOf(alice).filter({ hasText: "Bob's sentence." })).toHaveCount(1);
  const afterRedo = await paragraphsOf(alice).allTextContents();
  await expect(paragraphsOf(bob)).toHaveText(afterRedo);
});
