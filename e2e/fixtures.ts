/**
 * Shared fixtures: every test gets a fresh document (created through the
 * HTTP API) and two people, Alice and Bob, each in a browser context of
 * their own, both with the document open and connected.
 *
 * `openDocument` opens more pages (or opens them at a chosen moment), each
 * ready (connected, first sync done); every context it creates is closed
 * after the test.
 */
import type { DocumentMeta } from "@cowrite/shared";
import {
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  test as base,
  expect,
  type Locator,
  type Page,
} from "@playwright/test";

export { expect };

export interface DocumentFixtures {
  /** Id of a document created for this test alone. */
  docId: string;
  /** Opens `docId` as `name` in a new browser context. */
  openDocument: (name: string) => Promise<Page>;
  alice: Page;
  bob: Page;
}

export async function createDocument(
  request: APIRequestContext,
  title?: string,
): Promise<DocumentMeta> {
  const response = await request.post("/api/documents", {
    data: title === undefined ? {} : { title },
  });
  expect(response.status()).toBe(201);
  return (await response.json()) as DocumentMeta;
}

export function documentUrl(docId: string, name: string): string {
  return `/d/${encodeURIComponent(docId)}?name=${encodeURIComponent(name)}`;
}

/** The editor's contenteditable root. */
export function editorOf(page: Page): Locator {
  return page.getByTestId("editor");
}

/** Top-level paragraphs of the editor. */
export function paragraphsOf(page: Page): Locator {
  return editorOf(page).locator(":scope > p");
}

/**
 * Connected, and the first sync is done: the binding keeps the editor
 * read-only until then, so contenteditable="true" marks the end of loading.
 */
export async function expectReady(page: Page): Promise<void> {
  await expect(page.getByTestId("status")).toHaveAttribute("data-state", "connected");
  await expect(editorOf(page)).toHaveAttribute("contenteditable", "true");
}

/** Puts the caret at the end of `block` (a paragraph, heading, list item...). */
export async function placeCaretAtEnd(page: Page, block: Locator): Promise<void> {
  await block.click();
  await page.keyboard.press("End");
}

/** The names shown in `page`'s presence list (self first, marked "(you)"). */
export function presenceNamesOf(page: Page): Locator {
  return page.getByTestId("presence-user").locator(".presence-name");
}

/**
 * The caret @lexical/yjs draws for a remote user: a span inside the
 * editor's `.cursors` container holding a label span with the user's name.
 */
export function remoteCaretOf(page: Page, name: string): Locator {
  return page
    .locator(".editor-wrapper > .cursors > span")
    .filter({ has: page.getByText(name, { exact: true }) });
}

async function openAs(
  browser: Browser,
  contexts: BrowserContext[],
  baseURL: string | undefined,
  docId: string,
  name: string,
): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(documentUrl(docId, name));
  await expectReady(page);
  return page;
}

export const test = base.extend<DocumentFixtures>({
  docId: async ({ request }, use) => {
    const { id } = await createDocument(request);
    await use(id);
  },
  openDocument: async ({ browser, baseURL, docId }, use) => {
    const contexts: BrowserContext[] = [];
    await use((name) => openAs(browser, contexts, baseURL, docId, name));
    await Promise.all(contexts.map((context) => context.close()));
  },
  alice: async ({ openDocument }, use) => {
    await use(await openDocument("Alice"));
  },
  bob: async ({ openDocument }, use) => {
    await use(await openDocument("Bob"));
  },
});
