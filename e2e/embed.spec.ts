/**
 * The embedding library on the server's /embed-demo page: editors mounted
 * with createEditor() and as <cowrite-editor>, all loaded from /lib/.
 */
import type { APIRequestContext, Page } from "@playwright/test";
import { createDocument, editorOf, expect, expectReady, paragraphsOf, test } from "./fixtures.ts";

/** createEditor as the demo page exposes it (typed loosely: it runs in the browser). */
type CreateEditor = (
  element: Element | null,
  options: Record<string, unknown>,
) => {
  destroy(): void;
  on(event: string, listener: (value: never) => void): () => void;
  getMarkdown(): string;
  getHTML(): string;
  [key: string]: unknown;
};

function demoUrl(docId: string): string {
  return `/embed-demo?doc=${encodeURIComponent(docId)}`;
}

/** The contenteditable of the embedded editor inside the section `testid`. */
function embedded(page: Page, testid: string) {
  return page.getByTestId(testid).getByTestId("cowrite-content");
}

async function openDemo(page: Page, docId: string): Promise<void> {
  await page.goto(demoUrl(docId));
  for (const id of ["embed-a", "embed-b", "embed-element", "embed-react"]) {
    await expect(embedded(page, id)).toHaveAttribute("contenteditable", "true");
  }
}

async function docConnections(request: APIRequestContext, docId: string): Promise<number> {
  const response = await request.get(`/api/stats?doc=${encodeURIComponent(docId)}`);
  expect(response.status()).toBe(200);
  const stats = (await response.json()) as { connections: number; doc: { connections: number } };
  expect(typeof stats.connections).toBe("number");
  return stats.doc.connections;
}

test("the React component edits the document like the other embeds", async ({ page, docId }) => {
  await openDemo(page, docId);
  await expect(page.getByTestId("status-react")).toHaveText("connected");
  await embedded(page, "embed-react").click();
  await page.keyboard.type("typed in React");
  await expect(embedded(page, "embed-a")).toHaveText("typed in React");
  await expect(embedded(page, "embed-element")).toHaveText("typed in React");
});

test("two embedded editors on one page sync with each other and with the app", async ({
  page,
  docId,
  alice,
}) => {
  await openDemo(page, docId);
  await embedded(page, "embed-a").click();
  await page.keyboard.type("from embed A");
  await expect(embedded(page, "embed-b")).toHaveText("from embed A");
  await expect(embedded(page, "embed-element")).toHaveText("from embed A");
  await expect(embedded(page, "embed-react")).toHaveText("from embed A");
  await expect(paragraphsOf(alice)).toHaveText(["from embed A"]);

  await editorOf(alice).click();
  await alice.keyboard.press("End");
  await alice.keyboard.type(" and the app");
  await expect(embedded(page, "embed-a")).toHaveText("from embed A and the app");
  await expect(embedded(page, "embed-b")).toHaveText("from embed A and the app");
  await expect(embedded(page, "embed-viewer")).toHaveText("from embed A and the app");
  await expect(page.getByTestId("presence-b")).toContainText("Embed A");
});

test("the demo's five editors share one connection", async ({ page, docId, request }) => {
  const sockets: string[] = [];
  page.on("websocket", (socket) => sockets.push(new URL(socket.url()).pathname));
  await openDemo(page, docId);
  await expect(page.getByTestId("status-react")).toHaveText("connected");
  // Five document connections (two createEditor(), the element, React, the viewer)...
  await expect.poll(() => docConnections(request, docId)).toBe(5);
  // ...on one WebSocket, the shared one.
  expect(sockets).toEqual(["/ws"]);
});

test("theme variables and host CSS restyle the embedded editor", async ({ page, docId }) => {
  await openDemo(page, docId);
  const root = page.getByTestId("embed-a").locator(".cowrite-editor");
  const styles = await root.evaluate((element) => {
    const style = getComputedStyle(element);
    return {
      accent: style.getPropertyValue("--cowrite-accent").trim(),
      background: style.backgroundColor,
    };
  });
  expect(styles).toEqual({ accent: "#00aa77", background: "rgb(243, 251, 248)" });
  // The custom element picks up variables from the host page's stylesheet.
  const toolbar = page.getByTestId("embed-element").locator(".toolbar");
  await expect(toolbar).toHaveCSS("background-color", "rgb(251, 234, 233)");
  // toolbar="bold,italic" shows exactly those buttons.
  await expect(page.getByTestId("embed-element").locator(".toolbar-button")).toHaveCount(2);
  // An editor without a theme keeps the defaults.
  await expect(page.getByTestId("embed-b").locator(".cowrite-editor")).toHaveCSS(
    "background-color",
    "rgb(255, 255, 255)",
  );
});

test("destroying and re-creating editors leaves no socket open", async ({ page, request }) => {
  const { id: docId } = await createDocument(request);
  const { id: otherDoc } = await createDocument(request);
  await page.goto(demoUrl(otherDoc));
  await page.waitForFunction(() => "cowriteDemo" in window);

  // 100 mount/destroy cycles, every other one after the first sync.
  await page.evaluate(async (id) => {
    const { createEditor } = (window as unknown as { cowriteDemo: { createEditor: CreateEditor } })
      .cowriteDemo;
    const host = document.createElement("div");
    host.id = "churn";
    document.body.append(host);
    for (let i = 0; i < 100; i++) {
      const editor = createEditor(host, { serverUrl: location.origin, docId: id });
      if (i % 2 === 0) {
        await new Promise<void>((resolve) => {
          const off = editor.on("synced", (synced: boolean) => {
            if (synced) {
              off();
              resolve();
            }
          });
        });
      }
      editor.destroy();
    }
  }, docId);
  await expect(page.locator("#churn")).toBeEmpty();
  await expect.poll(() => docConnections(request, docId)).toBe(0);

  // A live one counts, and its destroy() frees it again.
  await page.evaluate((id) => {
    const demo = (window as unknown as { cowriteDemo: Record<string, unknown> }).cowriteDemo;
    const createEditor = demo.createEditor as CreateEditor;
    demo.live = createEditor(document.getElementById("churn"), {
      serverUrl: location.origin,
      docId: id,
    });
  }, docId);
  await expect.poll(() => docConnections(request, docId)).toBe(1);
  await page.evaluate(() =>
    (
      window as unknown as { cowriteDemo: { live: { destroy(): void } } }
    ).cowriteDemo.live.destroy(),
  );
  await expect.poll(() => docConnections(request, docId)).toBe(0);

  // Removing a <cowrite-editor> from the page destroys its editor. The demo
  // page holds five: two createEditor(), the element, React, the viewer.
  await expect.poll(() => docConnections(request, otherDoc)).toBe(5);
  await page
    .getByTestId("embed-element")
    .locator("cowrite-editor")
    .evaluate((el) => el.remove());
  await expect.poll(() => docConnections(request, otherDoc)).toBe(4);
});

test("initial content is written once when two embedders open a new document together", async ({
  page,
  request,
  docId,
  openDocument,
}) => {
  await page.goto(demoUrl((await createDocument(request)).id));
  await page.waitForFunction(() => "cowriteDemo" in window);
  const markdown = "# Hello\n\nWorld with **bold**";
  await page.evaluate(
    async ({ id, markdown }) => {
      const demo = (window as unknown as { cowriteDemo: Record<string, unknown> }).cowriteDemo;
      const createEditor = demo.createEditor as CreateEditor;
      const editors = [0, 1].map(() => {
        const host = document.createElement("div");
        document.body.append(host);
        return createEditor(host, {
          serverUrl: location.origin,
          docId: id,
          initialContent: { markdown },
        });
      });
      demo.pair = editors;
      await Promise.all(
        editors.map(
          (editor) =>
            new Promise<void>((resolve) => {
              if (editor.synced) resolve();
              else editor.on("synced", (synced: boolean) => synced && resolve());
            }),
        ),
      );
    },
    { id: docId, markdown },
  );
  const contents = () =>
    page.evaluate(() => {
      const demo = (window as unknown as { cowriteDemo: { pair: ReturnType<CreateEditor>[] } })
        .cowriteDemo;
      return demo.pair.map((editor) => ({ md: editor.getMarkdown(), html: editor.getHTML() }));
    });
  // Both editors converge on one copy of the content (a duplicate would never match).
  await expect.poll(async () => (await contents()).map((c) => c.md)).toEqual([markdown, markdown]);
  for (const { html } of await contents()) expect(html).toContain("<h1");
  const viewer = await openDocument("Carol");
  await page.goto("about:blank");
  await expectReady(viewer);
  await expect(editorOf(viewer).locator("h1")).toHaveText(["Hello"]);
  await expect(paragraphsOf(viewer)).toHaveText(["World with bold"]);
});
