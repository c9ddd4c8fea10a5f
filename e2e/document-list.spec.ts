import { createDocument, expect, test } from "./fixtures.ts";

test("a document created from the list opens, connected and editable", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("new-document").click();

  await expect(page).toHaveURL(/\/d\/[A-Za-z0-9_-]+$/);
  await expect(page.getByTestId("editor")).toBeVisible();
  await expect(page.getByTestId("status")).toHaveAttribute("data-state", "connected");
  await expect(page.getByTestId("editor")).toHaveAttribute("contenteditable", "true");
});

test("a new document appears in the list with its title", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("new-document").click();
  await expect(page).toHaveURL(/\/d\/[A-Za-z0-9_-]+$/);
  const docPath = new URL(page.url()).pathname;
  const link = page.locator(`a[href="${docPath}"]`);
  await expect(page.getByTestId("status")).toHaveAttribute("data-state", "connected");

  // Untitled until someone names it.
  await page.getByRole("link", { name: "All documents" }).click();
  await expect(page.getByTestId("document-item").filter({ has: link })).toContainText("Untitled");

  await link.click();
  await expect(page.getByTestId("status")).toHaveAttribute("data-state", "connected");
  await page.getByTestId("title").fill("Meeting notes");
  await expect(page.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await page.getByRole("link", { name: "All documents" }).click();

  await expect(page.getByTestId("document-item").filter({ has: link })).toContainText(
    "Meeting notes",
  );
});

test("the document list shows the newest document first", async ({ page, request }) => {
  const older = await createDocument(request, "Older document");
  // Different timestamps, so the order is decided by age and nothing else.
  await expect.poll(() => Date.now()).toBeGreaterThan(Date.parse(older.updatedAt));
  const newer = await createDocument(request, "Newer document");

  await page.goto("/");

  const items = page.getByTestId("document-item");
  const ours = items.filter({
    has: page.locator(`a[href="/d/${older.id}"], a[href="/d/${newer.id}"]`),
  });
  await expect(ours).toHaveCount(2);
  await expect(ours.first()).toContainText("Newer document");
  await expect(ours.last()).toContainText("Older document");
});

test("an unknown address shows a page that leads back to the documents", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Go to all documents" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("new-document")).toBeVisible();
});

test("a new document shows its placeholder at once and takes typing in its title", async ({
  page,
}) => {
  await page.goto("/");
  await page.getByTestId("new-document").click();
  await expect(page.getByTestId("editor")).toHaveAttribute("contenteditable", "true");

  await expect(page.getByText("Start writing…")).toBeVisible();
  await expect(page.getByTestId("title")).toBeFocused();
  await page.keyboard.type("My title");
  await page.keyboard.press("Enter");
  await page.keyboard.type("First line");

  await expect(page.getByTestId("title")).toHaveValue("My title");
  await expect(page.getByTestId("editor")).toHaveText("First line");
  await expect(page.getByText("Start writing…")).toBeHidden();
});

test("an existing empty document shows its placeholder when opened", async ({ page, request }) => {
  const { id } = await createDocument(request, "Named but empty");
  await page.goto(`/d/${id}`);
  await expect(page.getByTestId("editor")).toHaveAttribute("contenteditable", "true");
  await expect(page.getByText("Start writing…")).toBeVisible();
});

test("a list entry's accessible name starts with the document's title, not an icon", async ({
  page,
  request,
}) => {
  const { id } = await createDocument(request, "Accessible name check");
  await page.goto("/");
  const link = page.locator(`a[href="/d/${id}"]`);
  await expect(link).toBeVisible();
  // Playwright computes the accessible name as a screen reader would.
  await expect(page.getByRole("link", { name: /^Accessible name check/ })).toHaveCount(1);
});
