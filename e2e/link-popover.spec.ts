/**
 * Links are added, checked and removed in a popover under the toolbar (no
 * browser prompt): a labelled address field, Apply or Enter, Escape to
 * cancel; in a link it offers Open and Remove.
 */
import type { Page } from "@playwright/test";
import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

function linkDialog(page: Page) {
  return page.getByRole("dialog", { name: "Link" });
}

function addressField(page: Page) {
  return linkDialog(page).getByLabel("Link address");
}

async function typeAndSelectLine(page: Page, text: string): Promise<void> {
  await placeCaretAtEnd(page, paragraphsOf(page).first());
  await page.keyboard.type(text);
  await page.keyboard.press("Shift+Home");
}

test("a link added in the popover reaches the other user, a bare domain gets https://", async ({
  alice,
  bob,
}) => {
  // A prompt would block the page; it must not appear.
  alice.on("dialog", (dialog) => {
    throw new Error(`unexpected ${dialog.type()} dialog`);
  });
  await typeAndSelectLine(alice, "Cowrite site");
  await alice.getByTestId("toolbar-link").click();

  await expect(linkDialog(alice)).toBeVisible();
  await expect(addressField(alice)).toBeFocused();
  await addressField(alice).fill("example.com");
  await alice.keyboard.press("Enter");

  await expect(linkDialog(alice)).toBeHidden();
  await expect(editorOf(alice)).toBeFocused();
  await expect(editorOf(alice).getByRole("link", { name: "Cowrite site" })).toHaveAttribute(
    "href",
    "https://example.com",
  );
  await expect(editorOf(bob).getByRole("link", { name: "Cowrite site" })).toHaveAttribute(
    "href",
    "https://example.com",
  );
});

test("an address that is not http(s) or mailto is refused with a message", async ({ alice }) => {
  await typeAndSelectLine(alice, "Click me");
  await alice.keyboard.press("Control+k");
  await expect(addressField(alice)).toBeFocused();

  await addressField(alice).fill("javascript:alert(1)");
  await linkDialog(alice).getByRole("button", { name: "Apply" }).click();

  await expect(linkDialog(alice).getByRole("alert")).toContainText("not allowed");
  await expect(addressField(alice)).toHaveAttribute("aria-invalid", "true");
  await expect(linkDialog(alice)).toBeVisible();
  await expect(editorOf(alice).getByRole("link")).toHaveCount(0);

  // A valid one is taken after the correction; mailto: too.
  await addressField(alice).fill("mailto:ada@example.com");
  await alice.keyboard.press("Enter");
  await expect(editorOf(alice).getByRole("link", { name: "Click me" })).toHaveAttribute(
    "href",
    "mailto:ada@example.com",
  );
});

test("Escape closes the popover without a link", async ({ alice }) => {
  await typeAndSelectLine(alice, "Not a link");
  await alice.getByTestId("toolbar-link").click();
  await addressField(alice).fill("https://example.com");
  await alice.keyboard.press("Escape");

  await expect(linkDialog(alice)).toBeHidden();
  await expect(editorOf(alice)).toBeFocused();
  await expect(editorOf(alice).getByRole("link")).toHaveCount(0);
});

test("in a link the popover shows its address, opens it in a new tab and removes it", async ({
  alice,
  bob,
}) => {
  await typeAndSelectLine(alice, "Docs");
  await alice.keyboard.press("Control+k");
  await addressField(alice).fill("https://example.com/docs");
  await alice.keyboard.press("Enter");
  await expect(editorOf(bob).getByRole("link", { name: "Docs" })).toBeVisible();

  // Caret inside the link, no selection.
  await editorOf(alice).getByRole("link", { name: "Docs" }).click();
  await alice.keyboard.press("ArrowLeft");
  await alice.getByTestId("toolbar-link").click();
  await expect(addressField(alice)).toHaveValue("https://example.com/docs");
  const open = linkDialog(alice).getByRole("link", { name: "Open" });
  await expect(open).toHaveAttribute("href", "https://example.com/docs");
  await expect(open).toHaveAttribute("target", "_blank");
  await expect(open).toHaveAttribute("rel", /noopener/);

  await linkDialog(alice).getByRole("button", { name: "Remove" }).click();
  await expect(linkDialog(alice)).toBeHidden();
  await expect(editorOf(alice).getByRole("link")).toHaveCount(0);
  await expect(paragraphsOf(alice)).toHaveText(["Docs"]);
  await expect(editorOf(bob).getByRole("link")).toHaveCount(0);
});
