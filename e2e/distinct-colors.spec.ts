/**
 * Two people whose browsers remember the same colour still get carets and
 * presence dots of different colours in a shared document.
 */
import type { BrowserContext, Page } from "@playwright/test";
import {
  documentUrl,
  expect,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  remoteCaretOf,
  test,
} from "./fixtures.ts";

const sharedColor = "#1a73e8";

/** The presence dot's colour for `name` as `page` shows it. */
async function dotColorOf(page: Page, name: string): Promise<string> {
  return page
    .getByTestId("presence-user")
    .filter({ hasText: name })
    .locator(".presence-dot")
    .evaluate((dot) => getComputedStyle(dot).backgroundColor);
}

test("two people with the same stored colour get different colours", async ({
  browser,
  baseURL,
  docId,
}) => {
  const contexts: BrowserContext[] = [];
  try {
    const open = async (name: string): Promise<Page> => {
      const context = await browser.newContext({ baseURL });
      contexts.push(context);
      await context.addInitScript((color) => {
        localStorage.setItem("cowrite.color", color);
      }, sharedColor);
      const page = await context.newPage();
      await page.goto(documentUrl(docId, name));
      await expectReady(page);
      return page;
    };
    const alice = await open("Alice");
    const bob = await open("Bob");
    // The stored colour is what each starts with.
    expect(await alice.evaluate(() => localStorage.getItem("cowrite.color"))).toBe(sharedColor);

    // Both see both, and the two dots differ; both pages agree on the colours.
    await expect(async () => {
      const onAlice = [await dotColorOf(alice, "Alice"), await dotColorOf(alice, "Bob")];
      const onBob = [await dotColorOf(bob, "Alice"), await dotColorOf(bob, "Bob")];
      expect(onAlice[0]).not.toBe(onAlice[1]);
      expect(onBob).toEqual(onAlice);
    }).toPass({ timeout: 10_000 });

    // The carets each draws for the other differ as well.
    await placeCaretAtEnd(alice, paragraphsOf(alice).first());
    await alice.keyboard.type("Alice");
    await expect(paragraphsOf(bob)).toHaveText(["Alice"]);
    await placeCaretAtEnd(bob, paragraphsOf(bob).first());
    const aliceCaret = remoteCaretOf(bob, "Alice");
    const bobCaret = remoteCaretOf(alice, "Bob");
    await expect(aliceCaret).toBeVisible();
    await expect(bobCaret).toBeVisible();
    const caretColor = (caret: typeof aliceCaret) =>
      caret.evaluate((element) => getComputedStyle(element).backgroundColor);
    expect(await caretColor(aliceCaret)).toBe(await dotColorOf(bob, "Alice"));
    expect(await caretColor(bobCaret)).toBe(await dotColorOf(alice, "Bob"));
    expect(await caretColor(aliceCaret)).not.toBe(await caretColor(bobCaret));
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
});
