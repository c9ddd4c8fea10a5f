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
