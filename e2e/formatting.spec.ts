import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("bold from the toolbar appears for the other user", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("plain ");
  await alice.getByTestId("toolbar-bold").click();
  await expect(alice.getByTestId("toolbar-bold")).toHaveAttribute("aria-pressed", "true");
  await alice.keyboard.type("strong words");

  await expect(editorOf(bob).locator("strong")).toHaveText("strong words");
  await expect(paragraphsOf(bob)).toHaveText(["plain strong words"]);
});

test("bold switched on with Ctrl+B appears for the other user", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("make this ");
  await alice.keyboard.press("Control+b");
  // The toolbar reflects Lexical's selection format: the shortcut has been applied.
  await expect(alice.getByTestId("toolbar-bold")).toHaveAttribute("aria-pressed", "true");
  await alice.keyboard.type("bold");
  await alice.keyboard.press("Control+b");
  await expect(alice.getByTestId("toolbar-bold")).toHaveAttribute("aria-pressed", "false");
  await alice.keyboard.type(" again");

  await expect(editorOf(bob).locator("strong")).toHaveText("bold");
  await expect(paragraphsOf(bob)).toHaveText(["make this bold again"]);
});

test("a heading made from the toolbar appears for the other user", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Chapter one");
  await alice.getByTestId("toolbar-h1").click();

  await expect(editorOf(bob).locator("h1")).toHaveText("Chapter one");
  await expect(paragraphsOf(bob)).toHaveCount(0);
});

test("a bulleted list typed with the '- ' shortcut appears for the other user", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("- apples");
  await alice.keyboard.press("Enter");
  await alice.keyboard.type("pears");

  await expect(editorOf(bob).locator("ul > li")).toHaveText(["apples", "pears"]);
  await expect(editorOf(alice).locator("ul > li")).toHaveText(["apples", "pears"]);
});
