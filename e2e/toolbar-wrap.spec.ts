/**
 * The toolbar on narrow screens: its groups wrap onto several rows, and no
 * row starts or ends with a group separator. Judged on pixels, so it holds
 * whatever draws the separators: between a row's edge and its first (or
 * after its last) button only the toolbar's background may show.
 */
import type { Page } from "@playwright/test";
import { documentUrl, expect, expectReady, test } from "./fixtures.ts";

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface ToolbarLayout {
  /** The toolbar's background, as [r, g, b]. */
  background: number[];
  /** Where buttons may start and end: inside the toolbar's horizontal padding. */
  contentLeft: number;
  contentRight: number;
  /** The buttons, relative to the toolbar's border box. */
  buttons: Box[];
}

async function readToolbarLayout(page: Page): Promise<ToolbarLayout> {
  return page.locator(".toolbar").evaluate((toolbar) => {
    const box = toolbar.getBoundingClientRect();
    const style = getComputedStyle(toolbar);
    return {
      background: (style.backgroundColor.match(/\d+/g) ?? []).slice(0, 3).map(Number),
      contentLeft: Number.parseFloat(style.paddingLeft),
      contentRight: box.width - Number.parseFloat(style.paddingRight),
      buttons: [...toolbar.querySelectorAll(".toolbar-button")].map((button) => {
        const rect = button.getBoundingClientRect();
        return {
          left: rect.left - box.left,
          top: rect.top - box.top,
          right: rect.right - box.left,
          bottom: rect.bottom - box.top,
        };
      }),
    };
  });
}

/** Buttons grouped into rows by their top edge, each row left to right. */
function rowsOf(buttons: Box[]): Box[][] {
  const rows = new Map<number, Box[]>();
  for (const button of buttons) {
    const key = Math.round(button.top);
    rows.set(key, [...(rows.get(key) ?? []), button]);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, row]) => row.sort((a, b) => a.left - b.left));
}

/** The toolbar's screenshot as RGBA pixels (decoded by the browser). */
async function toolbarPixels(page: Page): Promise<{ width: number; data: number[] }> {
  const png = await page.locator(".toolbar").screenshot({ animations: "disabled" });
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d");
    if (context === null) throw new Error("no 2d context");
    context.drawImage(image, 0, 0);
    return {
      width: image.width,
      data: [...context.getImageData(0, 0, image.width, image.height).data],
    };
  }, png.toString("base64"));
}

/** Columns [from, to) of the band around a row's middle that show anything but the background. */
function markedColumns(
  pixels: { width: number; data: number[] },
  background: number[],
  row: Box,
  from: number,
  to: number,
): number[] {
  const marked: number[] = [];
  // The middle of the row only: the pill's rounded corners curve in at its top and bottom.
  const top = Math.ceil(row.top + 8);
  const bottom = Math.floor(row.bottom - 8);
  for (let x = Math.ceil(from); x < Math.floor(to); x++) {
    for (let y = top; y < bottom; y++) {
      const i = (y * pixels.width + x) * 4;
      const differs = [0, 1, 2].some(
        (c) => Math.abs((pixels.data[i + c] ?? 0) - (background[c] ?? 0)) > 8,
      );
      if (differs) {
        marked.push(x);
        break;
      }
    }
  }
  return marked;
}

for (const width of [390, 600]) {
  test.describe(`at ${width} px wide`, () => {
    test.use({ viewport: { width, height: 800 } });

    test("the toolbar wraps without a separator at the start or end of a row", async ({
      page,
      docId,
    }) => {
      await page.goto(documentUrl(docId, "Narrow"));
      await expectReady(page);
      await page.mouse.move(0, 0);

      const layout = await readToolbarLayout(page);
      const rows = rowsOf(layout.buttons);
      expect(rows.length, "the toolbar wraps at this width").toBeGreaterThan(1);
      const pixels = await toolbarPixels(page);

      let separatorsBetweenButtons = 0;
      for (const [index, row] of rows.entries()) {
        for (let i = 1; i < row.length; i++) {
          const [before, after] = [row[i - 1], row[i]];
          if (before === undefined || after === undefined) continue;
          const marks = markedColumns(pixels, layout.background, after, before.right, after.left);
          if (marks.length > 0) separatorsBetweenButtons++;
        }
        const first = row[0];
        const last = row.at(-1);
        if (first === undefined || last === undefined) throw new Error("empty row");
        expect(
          markedColumns(pixels, layout.background, first, layout.contentLeft, first.left),
          `row ${index + 1} starts with something drawn before its first button`,
        ).toEqual([]);
        expect(
          markedColumns(pixels, layout.background, first, last.right, layout.contentRight),
          `row ${index + 1} ends with something drawn after its last button`,
        ).toEqual([]);
      }
      // Groups that share a row are still set apart.
      expect(separatorsBetweenButtons).toBeGreaterThan(0);
    });
  });
}
