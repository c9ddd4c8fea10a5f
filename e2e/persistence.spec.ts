import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("a reloaded page shows the document as it was saved", async ({ alice }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Kept across reloads");
  await alice.keyboard.press("Enter");
  await alice.keyboard.type("- and a list item");
  await expect(editorOf(alice).locator("ul > li")).toHaveText(["and a list item"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");

  await alice.reload();

  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", "connected");
  await expect(paragraphsOf(alice)).toHaveText(["Kept across reloads"]);
  await expect(editorOf(alice).locator("ul > li")).toHaveText(["and a list item"]);
  await expect(editorOf(alice).locator(":scope > *")).toHaveCount(2);
});

test("a title edited by one user appears for the other and in the document list", async ({
  alice,
  bob,
  docId,
}) => {
  await alice.getByTestId("title").fill("Shared shopping list");

  await expect(bob.getByTestId("title")).toHaveValue("Shared shopping list");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");

  await bob.goto("/");
  const item = bob
    .getByTestId("document-item")
    .filter({ has: bob.locator(`a[href="/d/${docId}"]`) });
  await expect(item).toContainText("Shared shopping list");
});
