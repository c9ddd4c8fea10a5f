import { readFile } from "node:fs/promises";
import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("Download → Markdown saves the document with its heading and bold word", async ({
  alice,
  docId,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("# Shopping list");
  await alice.keyboard.press("Enter");
  await alice.keyboard.type("buy ");
  await alice.keyboard.press("Control+b");
  await alice.keyboard.type("milk");
  await alice.keyboard.press("Control+b");
  await expect(editorOf(alice).locator("h1")).toHaveText("Shopping list");
  await expect(editorOf(alice).locator("strong")).toHaveText("milk");
  // The server has every edit once it says so.
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");

  await alice.getByTestId("download").click();
  const downloading = alice.waitForEvent("download");
  await alice.getByRole("menuitem", { name: "Markdown (.md)" }).click();
  const download = await downloading;

  expect(download.suggestedFilename()).toBe(`${docId}.md`);
  const path = await download.path();
  expect(await readFile(path, "utf8")).toBe("# Shopping list\n\nbuy **milk**\n");
  await expect(alice.getByRole("menu")).toBeHidden();
});

test("Import opens a chosen Markdown file as a new document", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("import-file").setInputFiles({
    name: "plan.md",
    mimeType: "text/markdown",
    buffer: Buffer.from("# Imported plan\n\n- alpha\n- beta\n"),
  });

  await expect(page).toHaveURL(/\/d\/[A-Za-z0-9_-]+$/);
  const editor = editorOf(page);
  await expect(editor.locator("h1")).toHaveText("Imported plan");
  await expect(editor.locator("ul > li")).toHaveText(["alpha", "beta"]);
  await expect(page.getByTestId("title")).toHaveValue("Imported plan");
  await expect(editor).toHaveAttribute("contenteditable", "true");
  // Exactly the imported blocks: opening it added no paragraph of its own.
  await expect(editor.locator(":scope > *")).toHaveCount(2);
});

test("an HTML file dropped onto the list becomes a new document", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByTestId("new-document")).toBeEnabled();
  const dataTransfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    const html = "<h2>Dropped page</h2><p>Hello <i>there</i></p><script>alert(1)</script>";
    transfer.items.add(new File([html], "page.html", { type: "text/html" }));
    return transfer;
  });
  await page.locator(".list-main").dispatchEvent("drop", { dataTransfer });

  await expect(page).toHaveURL(/\/d\/[A-Za-z0-9_-]+$/);
  const editor = editorOf(page);
  await expect(editor.locator("h2")).toHaveText("Dropped page");
  await expect(editor.locator("em")).toHaveText("there");
  await expect(editor).not.toContainText("alert");
});
