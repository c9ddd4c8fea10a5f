import type { Page } from "@playwright/test";
import { documentUrl, editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

/** The page of a deleted document: read-only, saying so, not claiming unsaved work. */
async function expectDeletedState(page: Page): Promise<void> {
  await expect(page.getByTestId("connection-error")).toContainText("This document was deleted");
  await expect(editorOf(page)).toHaveAttribute("contenteditable", "false");
  await expect(page.getByTestId("title")).not.toBeEditable();
  await expect(page.getByTestId("toolbar-bold")).toBeDisabled();
  await expect(page.getByTestId("saved")).toBeHidden();
}

test("a deleted document becomes read-only in every open editor", async ({
  alice,
  bob,
  docId,
  request,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Before the delete");
  await expect(paragraphsOf(bob)).toHaveText(["Before the delete"]);

  expect((await request.delete(`/api/documents/${docId}`)).status()).toBe(204);

  await expectDeletedState(alice);
  await expectDeletedState(bob);
  // Typing goes nowhere: the editor refuses it.
  await editorOf(bob).click({ force: true });
  await bob.keyboard.type("after");
  await expect(paragraphsOf(bob)).toHaveText(["Before the delete"]);
});

test("reopening a deleted document's link does not bring it back", async ({
  page,
  docId,
  request,
}) => {
  expect((await request.delete(`/api/documents/${docId}`)).status()).toBe(204);

  await page.goto(documentUrl(docId, "Carol"));
  await expectDeletedState(page);
  await page.reload();
  await expectDeletedState(page);

  expect((await request.get(`/api/documents/${docId}`)).status()).toBe(404);
  const list = (await (await request.get("/api/documents")).json()) as {
    documents: { id: string }[];
  };
  expect(list.documents.map((d) => d.id)).not.toContain(docId);
});
