/**
 * The document page's word count, and the page at a phone's width (390 px):
 * nothing wider than the screen, the toolbar within reach, typing works.
 */
import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("the word count follows the text, everyone's edits included", async ({ alice, bob }) => {
  await expect(alice.getByTestId("word-count")).toHaveText("0 words");

  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("The quick brown fox");
  await expect(alice.getByTestId("word-count")).toHaveText("4 words");
  await expect(alice.getByTestId("word-count")).toHaveAttribute("title", "19 characters");

  // Bob's paragraph counts for Alice too.
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("jumps over");
  await expect(alice.getByTestId("word-count")).toHaveText("6 words");
  await expect(bob.getByTestId("word-count")).toHaveText("6 words");
});

test.describe("at a phone's width", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("the document page fits the screen and can be written in", async ({ alice }) => {
    // Nothing makes the page scroll sideways.
    const overflow = await alice.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);

    // Every toolbar button is inside the screen (the toolbar wraps), and usable.
    const buttons = alice.locator('[role="toolbar"] .toolbar-button');
    const count = await buttons.count();
    expect(count).toBeGreaterThan(5);
    for (let i = 0; i < count; i += 1) {
      const box = await buttons.nth(i).boundingBox();
      expect(box).not.toBeNull();
      expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 390).toBe(true);
    }

    // The presence list collapses to its avatars; the name field stays.
    await expect(alice.locator(".presence-name").first()).toBeHidden();
    await expect(alice.getByTestId("display-name")).toBeVisible();

    await placeCaretAtEnd(alice, paragraphsOf(alice).first());
    await alice.keyboard.type("Written on a phone");
    await alice.getByTestId("toolbar-bold").click();
    await alice.keyboard.type(" bold");
    await expect(editorOf(alice).locator(".cw-bold")).toHaveText(" bold");
    await expect(alice.getByTestId("word-count")).toHaveText("5 words");
  });
});
