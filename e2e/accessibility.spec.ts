/**
 * Accessibility: axe-core finds no serious or critical violations on the
 * list page, a document page (with another person present) and the embed
 * demo; the toolbar works from the keyboard alone.
 */
import { describeViolations, seriousViolations } from "./axe.ts";
import { editorOf, expect, expectReady, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("the document list has no serious accessibility violations", async ({ page, request }) => {
  await request.post("/api/documents", { data: { title: "An accessible document" } });
  await page.goto("/");
  await expect(page.getByTestId("document-item").first()).toBeVisible();
  expect(describeViolations(await seriousViolations(page))).toEqual([]);
});

test("a document page with two people has no serious accessibility violations", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Some text to check");
  await expect(paragraphsOf(bob)).toHaveText(["Some text to check"]);
  await expect(alice.getByTestId("presence-user")).toHaveCount(2);
  expect(describeViolations(await seriousViolations(alice))).toEqual([]);
});

test("the embed demo has no serious accessibility violations", async ({ page }) => {
  await page.goto("/embed-demo");
  await expect(page.locator("[contenteditable]").first()).toBeVisible();
  expect(describeViolations(await seriousViolations(page))).toEqual([]);
});

test("the editor and the status are announced, the toolbar is one tab stop", async ({ alice }) => {
  await expect(editorOf(alice)).toHaveAccessibleName(/.+/);
  // role=status is a polite live region.
  await expect(alice.getByTestId("status")).toHaveAttribute("role", "status");
  await expect(alice.getByTestId("saved")).toHaveAttribute("aria-live", "polite");
  const toolbar = alice.getByRole("toolbar");
  await expect(toolbar).toHaveAccessibleName(/.+/);
  // One button of the toolbar is in the tab order; the others are reached with the arrows.
  const tabbable = toolbar.locator('.toolbar-button:not([tabindex="-1"])');
  await expect(tabbable).toHaveCount(1);
});

test("the toolbar is usable with the keyboard alone", async ({ alice }) => {
  await expectReady(alice);
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Keyboard only");
  await alice.keyboard.press("Shift+Home");
  // From the editor, Shift+Tab reaches the toolbar; the arrows move along it.
  const bold = alice.getByTestId("toolbar-bold");
  await alice.getByRole("toolbar").locator('.toolbar-button:not([tabindex="-1"])').focus();
  for (let i = 0; i < 20 && !(await bold.evaluate((b) => b === document.activeElement)); i++) {
    await alice.keyboard.press("ArrowRight");
  }
  await expect(bold).toBeFocused();
  await alice.keyboard.press("Enter");
  await expect(bold).toHaveAttribute("aria-pressed", "true");
  await expect(editorOf(alice).locator(".cw-bold")).toHaveText("Keyboard only");
});
