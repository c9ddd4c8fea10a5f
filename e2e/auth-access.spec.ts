/**
 * Access control as the user sees it, against the server with AUTH_SECRET:
 * refused tokens stop the connection with the server's reason, viewers
 * watch but cannot edit, and pages from other origins cannot connect.
 */

import type { Page } from "@playwright/test";
import { AUTH_WS_URL, expect, mint, OTHER_ORIGIN, probeSocket, test } from "./auth-fixtures.ts";
import {
  editorOf,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
} from "./fixtures.ts";

async function expectStopped(page: Page, banner: RegExp): Promise<void> {
  await expect(page.getByTestId("status")).toHaveAttribute("data-state", "stopped");
  await expect(page.getByTestId("connection-error")).toBeVisible();
  await expect(page.getByTestId("connection-error")).toContainText(banner);
}

test("without a token the document stops with 'authentication required' and the list shows a sign-in error", async ({
  openWithToken,
}) => {
  const page = await openWithToken(null);
  await expectStopped(page, /Sign-in required: authentication required: no token/);
  await expect(page.getByTestId("status")).toContainText("authentication required");

  await page.getByRole("link", { name: "Back to all documents" }).click();
  await expect(page.getByTestId("list-error")).toBeVisible();
  await expect(page.getByTestId("list-error")).toContainText(
    /Sign-in required: authentication required: no token/,
  );
});

test("a token signed with another secret stops the connection as an invalid token", async ({
  docId,
  openWithToken,
}) => {
  const forged = await mint({ doc: docId, secret: "x".repeat(40) });
  const page = await openWithToken(forged);
  await expectStopped(page, /Sign-in required: invalid token/);
});

test("an expired token stops the connection with 'token expired'", async ({
  docId,
  openWithToken,
}) => {
  const expired = await mint({ doc: docId, expiresIn: -60 });
  const page = await openWithToken(expired);
  await expectStopped(page, /Sign-in required: token expired/);
});

test("a token for another document is refused with the server's reason", async ({
  docId,
  openWithToken,
}) => {
  const other = await mint({ doc: "some-other-document" });
  const page = await openWithToken(other);
  await expectStopped(
    page,
    new RegExp(`Access denied: token does not grant access to document ${docId}`),
  );
});

test("writers with valid tokens edit together, and the token survives navigating from the list", async ({
  docId,
  openWithToken,
}) => {
  const alice = await openWithToken(await mint({ doc: docId, name: "Alice" }), "/");
  // The list holds just the documents the token covers: this one.
  await expect(alice.getByTestId("document-item")).toHaveCount(1);
  await alice.getByTestId("document-item").getByRole("link").click();
  await expect(alice).toHaveURL(new RegExp(`/d/${docId}$`));
  await expectReady(alice);
  await expect(alice.getByTestId("display-name")).toHaveValue("Alice");

  const bob = await openWithToken(await mint({ doc: docId, name: "Bob" }));
  await expectReady(bob);
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Hello from Alice.");
  await expect(paragraphsOf(bob)).toHaveText(["Hello from Alice."]);
  await expect(presenceNamesOf(bob)).toContainText(["Alice"]);
});

test("a read-only user sees edits live but cannot change the document", async ({
  docId,
  openWithToken,
}) => {
  const writer = await openWithToken(await mint({ doc: docId, name: "Writer" }));
  await expectReady(writer);
  const reader = await openWithToken(
    await mint({ doc: docId, name: "Reader", permission: "read" }),
  );
  await expect(reader.getByTestId("status")).toHaveAttribute("data-state", "connected");
  await expect(reader.getByTestId("view-only")).toBeVisible();
  await expect(reader.getByTestId("view-only")).toHaveText("View only");
  await expect(editorOf(reader)).toHaveAttribute("contenteditable", "false");
  await expect(reader.getByTestId("title")).not.toBeEditable();
  await expect(reader.getByTestId("toolbar-bold")).toBeDisabled();
  await expect(reader.getByTestId("display-name")).toHaveValue("Reader");
  await expect(reader.getByTestId("display-name")).not.toBeEditable();
  await expect(writer.getByTestId("view-only")).toBeHidden();

  await placeCaretAtEnd(writer, paragraphsOf(writer).first());
  await writer.keyboard.type("Written by the writer.");
  await expect(paragraphsOf(reader)).toHaveText(["Written by the writer."]);
  await expect(presenceNamesOf(writer)).toContainText(["Reader"]);

  // The reader tries to type into the body and the title.
  await editorOf(reader).click();
  await reader.keyboard.type("Reader was here");
  await reader.keyboard.press("Enter");
  await reader.getByTestId("title").click();
  await reader.keyboard.type("Reader's title");

  // Whatever the reader did has been handled before this later edit arrives.
  await writer.keyboard.type(" More.");
  await expect(paragraphsOf(reader)).toHaveText(["Written by the writer. More."]);
  await expect(reader.getByTestId("title")).toHaveValue("");
  await expect(paragraphsOf(writer)).toHaveText(["Written by the writer. More."]);

  await expect(writer.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await writer.reload();
  await expectReady(writer);
  await expect(paragraphsOf(writer)).toHaveText(["Written by the writer. More."]);
  await expect(writer.getByTestId("title")).toHaveValue("");
});

test("a page from another origin cannot open a socket with a valid token, while the app's own origin can", async ({
  docId,
  openWithToken,
}) => {
  const token = await mint({ doc: docId });
  const url = `${AUTH_WS_URL}/${docId}?token=${encodeURIComponent(token)}`;

  const foreign = await openWithToken(null, `${OTHER_ORIGIN}/`);
  expect(await probeSocket(foreign, url)).toEqual({
    received: false,
    code: 4403,
    reason: "origin not allowed",
  });

  const own = await openWithToken(null, "/");
  expect(await probeSocket(own, url)).toMatchObject({ received: true });
});

test("a view-only token lists the document without offering to rename or delete it", async ({
  docId,
  openWithToken,
}) => {
  const reader = await openWithToken(await mint({ doc: docId, permission: "read" }), "/");
  const item = reader.getByTestId("document-item");
  await expect(item).toHaveCount(1);
  await expect(item.getByRole("link")).toBeVisible();
  await expect(item.getByRole("button")).toHaveCount(0);
  await expect(reader.getByTestId("new-document")).toBeDisabled();
});
