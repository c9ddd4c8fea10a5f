/**
 * Managing documents from the list: rename, delete (with a confirmation and
 * an undo window), search, paging; and no phantom entries for documents
 * that were only opened.
 */
import { randomBytes } from "node:crypto";
import type { Page } from "@playwright/test";
import { createDocument, editorOf, expect, expectReady, test } from "./fixtures.ts";

/** A word no other test's titles contain, so searches find only ours. */
const uniqueWord = (): string => `zq${randomBytes(4).toString("hex")}`;

/** Types `text` into the search box and waits for the list that answers it. */
async function search(page: Page, text: string): Promise<void> {
  await page.getByTestId("search").fill(text);
  await expect(page.getByTestId("document-list")).toHaveAttribute("aria-busy", "false");
}

function itemOf(page: Page, docId: string) {
  return page.getByTestId("document-item").filter({ has: page.locator(`a[href="/d/${docId}"]`) });
}

test("a document is renamed from the list, and the new title is the document's", async ({
  page,
  request,
}) => {
  const word = uniqueWord();
  const doc = await createDocument(request, `Draft ${word}`);
  await page.goto("/");
  await search(page, word);
  const item = itemOf(page, doc.id);
  await item.getByRole("button", { name: `Rename Draft ${word}` }).click();
  const input = page.getByTestId("rename-input");
  await expect(input).toBeFocused();
  await input.fill(`Final ${word}`);
  await input.press("Enter");
  await expect(itemOf(page, doc.id)).toContainText(`Final ${word}`);

  await itemOf(page, doc.id).getByRole("link").click();
  await expectReady(page);
  await expect(page.getByTestId("title")).toHaveValue(`Final ${word}`);
});

test("Escape cancels a rename and keeps the title", async ({ page, request }) => {
  const word = uniqueWord();
  const doc = await createDocument(request, `Keep ${word}`);
  await page.goto("/");
  await search(page, word);
  await itemOf(page, doc.id).getByTestId("rename").click();
  await page.getByTestId("rename-input").fill("Something else");
  await page.getByTestId("rename-input").press("Escape");
  await expect(itemOf(page, doc.id)).toContainText(`Keep ${word}`);
  expect((await (await request.get(`/api/documents/${doc.id}`)).json()).title).toBe(`Keep ${word}`);
});

test("deleting asks first, can be undone, and then deletes on the server", async ({
  page,
  request,
}) => {
  const word = uniqueWord();
  const doc = await createDocument(request, `Old notes ${word}`);
  await page.goto("/");
  await search(page, word);
  const item = itemOf(page, doc.id);

  // Cancel keeps it.
  await item.getByRole("button", { name: `Delete Old notes ${word}` }).click();
  const dialog = page.getByRole("dialog", { name: "Delete this document?" });
  await expect(dialog).toContainText(`Old notes ${word}`);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(item).toBeVisible();

  // Confirm hides it; Undo brings it back, and the server never deleted it.
  await item.getByTestId("delete").click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(item).toHaveCount(0);
  const toast = page.getByTestId("toast");
  await expect(toast).toContainText(`Deleted “Old notes ${word}”`);
  await toast.getByRole("button", { name: "Undo" }).click();
  await expect(item).toBeVisible();
  expect((await request.get(`/api/documents/${doc.id}`)).status()).toBe(200);

  // Confirmed and left alone: once the undo window ends, it is gone for good.
  await item.getByTestId("delete").click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(toast).toBeHidden({ timeout: 15_000 });
  await expect.poll(async () => (await request.get(`/api/documents/${doc.id}`)).status()).toBe(404);
  await page.reload();
  await search(page, word);
  await expect(page.getByTestId("empty-state")).toContainText(`No documents match “${word}”`);
});

test("closing the page within the undo window still deletes the document", async ({
  page,
  request,
}) => {
  const word = uniqueWord();
  const doc = await createDocument(request, `Scratch ${word}`);
  await page.goto("/");
  await search(page, word);
  await itemOf(page, doc.id).getByTestId("delete").click();
  await page.getByTestId("confirm-delete").click();
  await expect(page.getByTestId("toast")).toBeVisible();
  await page.close({ runBeforeUnload: true });
  await expect.poll(async () => (await request.get(`/api/documents/${doc.id}`)).status()).toBe(404);
});

test("search shows only documents whose title matches", async ({ page, request }) => {
  const word = uniqueWord();
  const apples = await createDocument(request, `Apples ${word}`);
  const pears = await createDocument(request, `Pears ${word}`);
  await page.goto("/");
  await search(page, `apples ${word}`.toUpperCase());
  await expect(itemOf(page, apples.id)).toBeVisible();
  await expect(page.getByTestId("document-item")).toHaveCount(1);
  await search(page, word);
  await expect(itemOf(page, pears.id)).toBeVisible();
  await expect(page.getByTestId("document-item")).toHaveCount(2);
  await search(page, `${word}-nothing`);
  await expect(page.getByTestId("document-item")).toHaveCount(0);
  await expect(page.getByTestId("empty-state")).toBeVisible();
});

test("a long list comes in pages, each document once", async ({ page, request }) => {
  const word = uniqueWord();
  const ids: string[] = [];
  for (let i = 0; i < 55; i++) ids.push((await createDocument(request, `Page ${i} ${word}`)).id);
  await page.goto("/");
  await search(page, word);
  const items = page.getByTestId("document-item");
  await expect(items.filter({ hasText: word })).toHaveCount(50);
  await expect(items).toHaveCount(50);
  // Newest first: the first one created is on the second page.
  await expect(itemOf(page, ids[0] ?? "")).toHaveCount(0);
  await page.getByTestId("load-more").click();
  await expect(items.filter({ hasText: word })).toHaveCount(55);
  await expect(itemOf(page, ids[0] ?? "")).toBeVisible();
  await expect(page.getByTestId("load-more")).toBeHidden();
});

test("opening a link does not add an entry to the list until someone writes", async ({ page }) => {
  const docId = `opened-${randomBytes(6).toString("hex")}`;
  await page.goto(`/d/${docId}`);
  await expectReady(page);
  await expect(page.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await page.goto("/");
  await expect(page.getByTestId("document-list")).toBeAttached();
  await expect(page.locator(".list-loading")).toBeHidden();
  await expect(page.locator(`a[href="/d/${docId}"]`)).toHaveCount(0);

  await page.goto(`/d/${docId}`);
  await expectReady(page);
  await editorOf(page).click();
  await page.keyboard.type("Now it has words");
  await expect(page.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await page.goto("/");
  await expect(page.locator(`a[href="/d/${docId}"]`)).toBeVisible();
});
