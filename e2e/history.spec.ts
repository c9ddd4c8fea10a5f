/**
 * Version history on the document page: save a named version, preview it
 * read-only beside the live document, restore it for everyone, and restore
 * the restore away.
 */
import { describeViolations, seriousViolations } from "./axe.ts";
import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("a named version is previewed read-only and restored for everyone, and the restore can be undone", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("First draft");
  await expect(paragraphsOf(bob)).toHaveText(["First draft"]);

  await alice.getByTestId("history-toggle").click();
  const panel = alice.getByRole("complementary", { name: "Version history" });
  await expect(panel).toBeVisible();
  await expect(alice.getByTestId("version-name")).toBeFocused();
  await alice.getByTestId("version-name").fill("Draft one");
  await alice.keyboard.press("Enter");
  await expect(panel.getByTestId("history-message")).toHaveText("Saved “Draft one”.");
  const draftOne = panel.getByTestId("history-item").filter({ hasText: "Draft one" });
  await expect(draftOne).toHaveCount(1);

  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type(" and a second thought");
  await expect(paragraphsOf(bob)).toHaveText(["First draft and a second thought"]);

  // Preview: the version as it was, beside the live text, not editable.
  await draftOne.getByRole("button", { name: "Preview Draft one" }).click();
  const preview = alice.getByTestId("version-preview-content");
  await expect(preview).toHaveText("First draft");
  await expect(preview).toHaveAttribute("contenteditable", "false");
  await expect(paragraphsOf(alice)).toHaveText(["First draft and a second thought"]);
  expect(describeViolations(await seriousViolations(alice))).toEqual([]);

  // Restore, after a confirmation: everyone sees the version's text.
  await draftOne.getByRole("button", { name: "Restore Draft one" }).click();
  await alice.getByTestId("confirm-restore").click();
  await expect(paragraphsOf(alice)).toHaveText(["First draft"]);
  await expect(paragraphsOf(bob)).toHaveText(["First draft"]);
  await expect(panel.getByTestId("history-message")).toHaveText("Restored “Draft one”.");

  // What the restore replaced is a version: restoring it brings the text back.
  const before = panel
    .getByTestId("history-item")
    .filter({ hasText: "Before restoring Draft one" });
  await expect(before).toHaveCount(1);
  await before.getByRole("button", { name: /^Restore/ }).click();
  await alice.getByTestId("confirm-restore").click();
  await expect(paragraphsOf(bob)).toHaveText(["First draft and a second thought"]);

  // Bob can keep writing in the restored document.
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.type("!");
  await expect(editorOf(alice)).toHaveText("First draft and a second thought!");
});
