/**
 * The embedding library against the server with AUTH_SECRET: an embed
 * given a read token shows the document live, and nothing typed into it
 * reaches anyone else.
 */
import type { Page } from "@playwright/test";
import { expect, mint, test } from "./auth-fixtures.ts";
import { editorOf, expectReady, paragraphsOf, placeCaretAtEnd } from "./fixtures.ts";

/** The contenteditable of the editor mounted in `#id`. */
function embedded(page: Page, id: string) {
  return page.locator(`#${id}`).getByTestId("cowrite-content");
}

test("a read-only embed with a read token cannot change the document", async ({
  docId,
  openWithToken,
}) => {
  const writer = await openWithToken(await mint({ doc: docId, name: "Writer" }));
  await expectReady(writer);
  await placeCaretAtEnd(writer, paragraphsOf(writer).first());
  await writer.keyboard.type("original");

  // A host page on the server's origin (the demo page, for its copy of the
  // library) mounts two editors with a read token: one with readOnly, as
  // documented, and one without, like a host page that forgot it, whose
  // typing only the server can stop.
  const readToken = await mint({ doc: docId, name: "Viewer", permission: "read" });
  const host = await openWithToken(null, `/embed-demo?doc=${encodeURIComponent(docId)}`);
  await host.waitForFunction(() => "cowriteDemo" in window);
  await host.evaluate(
    ({ id, token }) => {
      const demo = (window as unknown as { cowriteDemo: Record<string, unknown> }).cowriteDemo;
      const createEditor = demo.createEditor as (
        element: Element,
        options: Record<string, unknown>,
      ) => unknown;
      for (const [hostId, readOnly] of [
        ["read-only", true],
        ["forgot-read-only", false],
      ] as const) {
        const element = document.createElement("div");
        element.id = hostId;
        document.body.append(element);
        createEditor(element, {
          serverUrl: location.origin,
          docId: id,
          token,
          readOnly,
          user: { name: "Viewer" },
        });
      }
    },
    { id: docId, token: readToken },
  );
  const viewer = embedded(host, "read-only");
  const careless = embedded(host, "forgot-read-only");
  await expect(viewer).toHaveText("original");
  await expect(careless).toHaveText("original");
  await expect(viewer).toHaveAttribute("contenteditable", "false");

  await viewer.click();
  await host.keyboard.type("vandalism");
  await host.keyboard.press("Enter");
  await careless.click();
  await host.keyboard.press("End");
  await host.keyboard.type(" sneaky");
  await expect(careless).toContainText("sneaky");

  // Barrier: the writer edits after the readers' attempts. Once both
  // readers show that edit, the server has handled everything they sent
  // before it, and the writer's document must have none of it.
  await writer.keyboard.type(" more");
  await expect(viewer).toHaveText("original more");
  await expect(careless).toContainText("more");
  expect(await paragraphsOf(writer).allTextContents()).toEqual(["original more"]);
  await expect(editorOf(writer)).not.toContainText("sneaky");
  await expect(editorOf(writer)).not.toContainText("vandalism");
});
