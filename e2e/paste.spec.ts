/**
 * Paste: HTML from Google Docs, Word and web pages keeps its structure
 * (headings, lists, bold/italic, links, quotes, code) and drops what the
 * editor cannot show (styles, scripts, images, frames); several lines of
 * plain text make paragraphs. The samples in paste-samples/ are clipboard
 * HTML as those applications put it there.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "@playwright/test";
import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

const samples = path.join(path.dirname(fileURLToPath(import.meta.url)), "paste-samples");
const sample = (name: string): string => readFileSync(path.join(samples, name), "utf8");

/** Pastes into the focused editor as the browser would: a paste event carrying the clipboard. */
async function paste(page: Page, data: { html?: string; text: string }): Promise<void> {
  await page.evaluate((clipboard) => {
    const transfer = new DataTransfer();
    if (clipboard.html !== undefined) transfer.setData("text/html", clipboard.html);
    transfer.setData("text/plain", clipboard.text);
    const target = document.activeElement ?? document.body;
    target.dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }),
    );
  }, data);
}

test("a Google Docs selection keeps its heading, bold, italic, link and list", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, {
    html: sample("google-docs.html"),
    text: "Trip plan\nWe leave on Friday and come back late. See the map.\nTickets\nPassports",
  });
  for (const page of [alice, bob]) {
    const editor = editorOf(page);
    await expect(editor.locator("h1")).toHaveText("Trip plan");
    await expect(editor.locator(".cw-bold")).toHaveText("Friday");
    await expect(editor.locator(".cw-italic")).toHaveText("late");
    await expect(editor.getByRole("link", { name: "the map" })).toHaveAttribute(
      "href",
      "https://example.com/map",
    );
    await expect(editor.locator("ul > li")).toHaveText(["Tickets", "Passports"]);
    // Google's wrapper <b style="font-weight:normal"> does not make everything bold.
    await expect(editor.locator("h1 .cw-bold")).toHaveCount(0);
  }
});

test("a Word selection keeps its heading, bold, italic and numbered list, without Word's markup", async ({
  alice,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, {
    html: sample("word.html"),
    text: "Minutes\nPresent: Ada, Grace\nBudget approved\nNext meeting in March",
  });
  const editor = editorOf(alice);
  await expect(editor.locator("h2")).toHaveText("Minutes");
  await expect(editor.locator(".cw-bold")).toHaveText("Present:");
  await expect(editor.locator("ol > li")).toHaveText(["Budget approved", "Next meeting in March"]);
  await expect(editor.locator("ol .cw-italic")).toHaveText("March");
  await expect(editor).not.toContainText("mso");
  await expect(editor).not.toContainText("Calibri");
});

test("a web page keeps its structure and drops scripts, styles, images and frames", async ({
  alice,
  bob,
}) => {
  const errors: string[] = [];
  alice.on("pageerror", (error) => errors.push(error.message));
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, {
    html: sample("web-page.html"),
    text: "How to brew\nUse fresh beans and clean water, then read the guide.",
  });
  const editor = editorOf(bob);
  await expect(editor.locator("h2")).toHaveText("How to brew");
  await expect(editor.locator(".cw-bold")).toHaveText("fresh");
  await expect(editor.locator(".cw-italic")).toHaveText("clean");
  await expect(editor.getByRole("link", { name: "the guide" })).toHaveAttribute(
    "href",
    "https://example.org/guide",
  );
  await expect(editor.locator("blockquote")).toHaveText("Coffee is a language in itself.");
  await expect(editor.locator("code, pre").first()).toContainText("grind --fine 18g");
  for (const page of [alice, bob]) {
    await expect(editorOf(page).locator("img, iframe, script, style")).toHaveCount(0);
    await expect(editorOf(page)).not.toContainText("color: red");
    await expect(editorOf(page).locator("[onclick], [onerror]")).toHaveCount(0);
  }
  expect(
    await alice.evaluate(() => {
      const w = window as unknown as Record<string, unknown>;
      return [w.__pasted, w.__clicked, w.__imageError];
    }),
  ).toEqual([undefined, undefined, undefined]);
  expect(errors).toEqual([]);
});

test("several lines of plain text become paragraphs", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, { text: "First line\nSecond line\n\nFourth line" });
  await expect(paragraphsOf(bob)).toHaveText(["First line", "Second line", "", "Fourth line"]);
});

test("plain text that is clearly Markdown is pasted as formatted text", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, {
    text: "# Shopping\n\nBuy **milk** and *bread*:\n\n- apples\n- pears\n\n> Do not forget the [list](https://example.com/list).",
  });
  const editor = editorOf(bob);
  await expect(editor.locator("h1")).toHaveText("Shopping");
  await expect(editor.locator(".cw-bold")).toHaveText("milk");
  await expect(editor.locator(".cw-italic")).toHaveText("bread");
  await expect(editor.locator("ul > li")).toHaveText(["apples", "pears"]);
  await expect(editor.locator("blockquote")).toContainText("Do not forget the list.");
  await expect(editor.getByRole("link", { name: "list" })).toHaveAttribute(
    "href",
    "https://example.com/list",
  );
});

test("plain text with a stray asterisk stays plain text", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await paste(alice, { text: "5 * 3 = 15, and #hashtags are not headings" });
  await expect(paragraphsOf(bob)).toHaveText(["5 * 3 = 15, and #hashtags are not headings"]);
  await expect(editorOf(bob).locator("h1, .cw-italic")).toHaveCount(0);
});
