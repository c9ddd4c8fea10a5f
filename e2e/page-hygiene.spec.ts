/**
 * What a developer sees in the console: no warnings or errors, and no
 * request the server answers 404 (a missing favicon is one), on the app's
 * pages and the embedding demo.
 */
import type { Page } from "@playwright/test";
import { createDocument, expect, test } from "./fixtures.ts";

/** Records console warnings/errors and 404 answers from the moment it is called. */
function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "warning" || message.type() === "error") {
      problems.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (response) => {
    if (response.status() === 404) problems.push(`404: ${response.url()}`);
  });
  return { problems };
}

test("the list, a document and the embed demo load without console warnings or 404s", async ({
  page,
  request,
}) => {
  const { id } = await createDocument(request, "Hygiene check");
  const watch = watchPage(page);

  await page.goto("/");
  await expect(page.getByTestId("document-list")).toBeVisible();
  await page.goto(`/d/${id}`);
  await expect(page.getByTestId("editor")).toHaveAttribute("contenteditable", "true");
  await page.goto(`/embed-demo?doc=${id}`);
  await expect(page.getByTestId("status-a")).toHaveText("connected");
  await expect(page.getByTestId("status-react")).toHaveText("connected");
  // The favicon is fetched after load; wait for its answer before judging.
  await page.goto("/");
  await expect(page.getByTestId("document-list")).toBeVisible();

  expect(watch.problems).toEqual([]);
  // Browsers and crawlers ask for /favicon.ico whatever the page links.
  expect((await page.request.get("/favicon.ico")).status()).toBe(200);
});

test("every visit to the embed demo uses the same document", async ({ page, request }) => {
  const demoIds = async (): Promise<string[]> => {
    // By title: a full suite has made more documents than one page of the list holds.
    const response = await request.get("/api/documents?q=Embedding%20demo&limit=100");
    const body = (await response.json()) as { documents: { id: string; title: string }[] };
    return body.documents.filter((d) => d.title === "Embedding demo").map((d) => d.id);
  };
  await page.goto("/embed-demo");
  await expect(page.getByTestId("status-a")).toHaveText("connected");
  const first = new URL(page.url()).searchParams.get("doc");
  await page.goto("/embed-demo");
  await expect(page.getByTestId("status-a")).toHaveText("connected");
  const second = new URL(page.url()).searchParams.get("doc");

  expect(first).not.toBeNull();
  expect(second).toBe(first);
  expect(await demoIds()).toEqual([first]);
});
