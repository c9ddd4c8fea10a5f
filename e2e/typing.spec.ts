import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("text typed by one user appears for the other", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Hello from Alice");

  await expect(paragraphsOf(bob)).toHaveText(["Hello from Alice"]);
});

test("two users typing at once in different paragraphs both keep their text", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("first");
  await alice.keyboard.press("Enter");
  await alice.keyboard.type("second");
  await expect(paragraphsOf(bob)).toHaveText(["first", "second"]);

  await placeCaretAtEnd(alice, paragraphsOf(alice).nth(0));
  await placeCaretAtEnd(bob, paragraphsOf(bob).nth(1));
  await Promise.all([
    alice.keyboard.type(" and Alice types here at the same time"),
    bob.keyboard.type(" while Bob types there"),
  ]);

  const expected = ["first and Alice types here at the same time", "second while Bob types there"];
  await expect(paragraphsOf(alice)).toHaveText(expected);
  await expect(paragraphsOf(bob)).toHaveText(expected);
});

test("two users typing at once in the same paragraph converge on the same text", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("[middle]");
  await expect(paragraphsOf(bob)).toHaveText(["[middle]"]);

  // Alice writes before the existing text, Bob after it.
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.press("Home");
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await Promise.all([
    alice.keyboard.type("Alice wrote this "),
    bob.keyboard.type(" Bob wrote this"),
  ]);

  const expected = "Alice wrote this [middle] Bob wrote this";
  await expect(editorOf(alice)).toHaveText(expected);
  await expect(editorOf(bob)).toHaveText(expected);
  await expect(paragraphsOf(alice)).toHaveCount(1);
  await expect(paragraphsOf(bob)).toHaveCount(1);
});
