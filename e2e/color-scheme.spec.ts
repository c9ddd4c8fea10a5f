/**
 * Dark mode: the app's pages and the editor follow the system's colour
 * scheme, and an embed host's --cowrite-* variables still win over both
 * schemes' defaults.
 */
import type { Locator, Page } from "@playwright/test";
import { createDocument, documentUrl, editorOf, expect, expectReady, test } from "./fixtures.ts";

/** WCAG relative luminance of a computed `rgb(...)`/`rgba(...)` colour: 0 black, 1 white. */
function luminance(color: string): number {
  const channels = color
    .match(/[\d.]+/g)
    ?.slice(0, 3)
    .map(Number);
  if (channels?.length !== 3) throw new Error(`not an rgb() colour: ${color}`);
  const [r = 0, g = 0, b = 0] = channels.map((value) => {
    const c = value / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

type Scheme = "dark" | "light";

/** Waits until `locator`'s computed `property` is a dark (or light) colour. */
async function expectShade(
  locator: Locator,
  property: "background-color" | "color",
  shade: Scheme,
): Promise<void> {
  await expect(async () => {
    const color = await locator.evaluate(
      (element, name) => getComputedStyle(element).getPropertyValue(name),
      property,
    );
    // A transparent background would show whatever is behind it: not a theme.
    expect(color, `${property} is transparent`).not.toMatch(/rgba\(.*, 0\)$/);
    if (shade === "dark") expect(luminance(color), `${property} ${color}`).toBeLessThan(0.1);
    else expect(luminance(color), `${property} ${color}`).toBeGreaterThan(0.6);
  }).toPass({ timeout: 5_000 });
}

/** Dark backgrounds and light text for "dark", the reverse for "light". */
async function expectScheme(surface: Locator, text: Locator, scheme: Scheme): Promise<void> {
  await expectShade(surface, "background-color", scheme);
  await expectShade(text, "color", scheme === "dark" ? "light" : "dark");
}

async function openPages(page: Page, docId: string, scheme: Scheme): Promise<void> {
  await page.emulateMedia({ colorScheme: scheme });

  await page.goto("/");
  await expect(page.getByTestId("document-list")).toBeVisible();
  await expectScheme(page.locator("body"), page.locator("body"), scheme);
  await expectScheme(page.locator(".list-header"), page.locator(".brand h1"), scheme);
  await expectScheme(
    page.locator(".document-list"),
    // This test's own (titled) entry: an untitled one is muted on purpose.
    page.locator(`a[href="/d/${docId}"] .document-title`),
    scheme,
  );

  await page.goto(documentUrl(docId, "Dana"));
  await expectReady(page);
  await expectScheme(page.locator("body"), page.getByTestId("title"), scheme);
  await expectScheme(page.locator(".doc-header"), page.getByTestId("title"), scheme);
  await expectScheme(page.locator(".page"), editorOf(page), scheme);
  await expectScheme(page.locator(".toolbar"), page.locator(".toolbar-button").first(), scheme);

  await page.goto("/no/such/page");
  await expectScheme(page.locator("body"), page.locator("h1"), scheme);
}

test("with a dark system scheme the list, document and 404 pages are dark", async ({
  page,
  request,
}) => {
  const { id } = await createDocument(request, "Night notes");
  await openPages(page, id, "dark");
});

test("with a light system scheme the pages stay light", async ({ page, request }) => {
  const { id } = await createDocument(request, "Day notes");
  await openPages(page, id, "light");
});

test("an embedded editor turns dark where its page allows, and host variables still win", async ({
  page,
  docId,
}) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(`/embed-demo?doc=${encodeURIComponent(docId)}`);
  const plain = page.getByTestId("embed-b");
  await expect(plain.getByTestId("cowrite-content")).toHaveAttribute("contenteditable", "true");

  // No theme: the dark defaults.
  await expectScheme(
    plain.locator(".cowrite-editor"),
    plain.getByTestId("cowrite-content"),
    "dark",
  );
  await expectShade(plain.locator(".toolbar"), "background-color", "dark");

  // Variables set on the editor (as the `theme` option does) or on an
  // ancestor (a host stylesheet) win over the dark defaults.
  await plain.evaluate((host) => {
    host.style.setProperty("--cowrite-toolbar-bg", "rgb(250, 240, 200)");
    host
      .querySelector<HTMLElement>(".cowrite-editor")
      ?.style.setProperty("--cowrite-bg", "rgb(240, 250, 245)");
  });
  await expect(plain.locator(".toolbar")).toHaveCSS("background-color", "rgb(250, 240, 200)");
  await expect(plain.locator(".cowrite-editor")).toHaveCSS(
    "background-color",
    "rgb(240, 250, 245)",
  );
  await plain.evaluate((host) => {
    host.style.removeProperty("--cowrite-toolbar-bg");
    host.querySelector<HTMLElement>(".cowrite-editor")?.style.removeProperty("--cowrite-bg");
  });

  // A host page that allows only light keeps the editor light.
  await page.evaluate(() => {
    document.documentElement.style.colorScheme = "light";
  });
  await expectScheme(
    plain.locator(".cowrite-editor"),
    plain.getByTestId("cowrite-content"),
    "light",
  );

  // And the light system scheme keeps the light defaults.
  await page.evaluate(() => {
    document.documentElement.style.colorScheme = "";
  });
  await page.emulateMedia({ colorScheme: "light" });
  await expectScheme(
    plain.locator(".cowrite-editor"),
    plain.getByTestId("cowrite-content"),
    "light",
  );
});
