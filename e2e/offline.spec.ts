/**
 * Offline: the document is kept on the device (IndexedDB) and the app page
 * by the service worker, so edits typed offline survive a reload, can be
 * added to after it, and all reach the others once the network is back.
 */
import type { Page } from "@playwright/test";
import {
  editorOf,
  expect,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
  test,
} from "./fixtures.ts";

/** Resolves once the service worker controls `page` (it then serves the page offline). */
async function controlledByServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    if (navigator.serviceWorker.controller !== null) return;
    await new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener("controllerchange", () => resolve(), {
        once: true,
      }),
    );
  });
}

/** Names of this origin's IndexedDB databases that hold a copy of `docId`. */
function localCopiesOf(page: Page, docId: string): Promise<string[]> {
  return page.evaluate(
    async (id) =>
      (await indexedDB.databases())
        .map((db) => db.name ?? "")
        .filter((name) => name.endsWith(`:${id}`)),
    docId,
  );
}

test("edits typed offline survive a reload and all reach the others, once", async ({
  alice,
  bob,
}) => {
  await controlledByServiceWorker(alice);
  await alice.context().setOffline(true);
  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", "offline");
  await expect(alice.getByTestId("status")).toHaveText("Offline – changes kept on this device");
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("typed offline,");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "on-device");
  await expect(alice.getByTestId("saved")).toHaveText("Changes kept on this device");

  // Still offline: the page comes from the service worker, the text from the device.
  await alice.reload();
  await expect(paragraphsOf(alice)).toHaveText(["typed offline,"]);
  await expect(editorOf(alice)).toHaveAttribute("contenteditable", "true");
  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", "offline");
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type(" then reloaded");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "on-device");
  await expect(paragraphsOf(bob)).toHaveText([""]);

  await alice.context().setOffline(false);
  await expect(paragraphsOf(bob)).toHaveText(["typed offline, then reloaded"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(paragraphsOf(alice)).toHaveText(["typed offline, then reloaded"]);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);
  // And a later edit by Bob reaches Alice's reloaded page as usual.
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.type("!");
  await expect(paragraphsOf(alice)).toHaveText(["typed offline, then reloaded!"]);
});

test("the copy on the device is deleted with its document", async ({ alice, docId, request }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("to be deleted");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  expect(await localCopiesOf(alice, docId)).toHaveLength(1);

  expect((await request.delete(`/api/documents/${docId}`)).status()).toBe(204);
  await expect(alice.getByTestId("connection-error")).toContainText("deleted");
  await expect.poll(() => localCopiesOf(alice, docId)).toEqual([]);
});

test("a page without a copy on the device waits for the server and says so", async ({ alice }) => {
  // A browser that refuses IndexedDB (private mode, storage off).
  await alice.addInitScript(() => {
    Object.defineProperty(window, "indexedDB", { value: undefined });
  });
  await alice.reload();
  await expectReady(alice);
  await alice.context().setOffline(true);
  await expect(alice.getByTestId("status")).toHaveText(
    "Offline – changes will sync when you reconnect",
  );
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("only in memory");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "unsaved");
});
