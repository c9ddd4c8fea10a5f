/**
 * Leaving a page whose edits neither the server nor this device has (offline
 * in a browser without IndexedDB, say) asks first: those edits exist nowhere
 * else. Staying keeps the page whole (its presence included); with
 * everything saved, on the server or on the device, the page closes without
 * asking.
 */
import type { Dialog, Page } from "@playwright/test";
import {
  expect,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
  test,
} from "./fixtures.ts";

/** Asks to close `page` as a user would, and resolves with the dialog it raised, if any. */
async function closeAsUser(page: Page, answer: "stay" | "leave"): Promise<Dialog | null> {
  let raised: Dialog | null = null;
  const handled = new Promise<void>((resolve) => {
    page.once("dialog", async (dialog) => {
      raised = dialog;
      if (answer === "stay") await dialog.dismiss();
      else await dialog.accept();
      resolve();
    });
    page.once("close", () => resolve());
  });
  await page.close({ runBeforeUnload: true });
  await handled;
  return raised;
}

test("leaving with changes kept nowhere else asks first; staying keeps presence", async ({
  alice,
  bob,
}) => {
  // No copy on this device: a browser that refuses IndexedDB.
  await alice.addInitScript(() => {
    Object.defineProperty(window, "indexedDB", { value: undefined });
  });
  await alice.reload();
  await expectReady(alice);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);
  await alice.context().setOffline(true);
  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", /offline|reconnecting/);
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Only in this tab");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "unsaved");

  const dialog = await closeAsUser(alice, "stay");
  expect(dialog?.type()).toBe("beforeunload");
  expect(alice.isClosed()).toBe(false);

  // Back online, the edit arrives and Alice is still present for Bob.
  await alice.context().setOffline(false);
  await expect(paragraphsOf(bob)).toHaveText(["Only in this tab"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);
});

test("with everything saved, the page closes without asking", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Saved already");
  await expect(paragraphsOf(bob)).toHaveText(["Saved already"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  const dialog = await closeAsUser(alice, "leave");
  expect(dialog).toBeNull();
  expect(alice.isClosed()).toBe(true);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)"]);
});

test("offline, with the changes kept on this device, the page closes without asking", async ({
  alice,
  bob,
}) => {
  await alice.context().setOffline(true);
  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", "offline");
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Kept here");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "on-device");
  const dialog = await closeAsUser(alice, "stay");
  expect(dialog).toBeNull();
  expect(alice.isClosed()).toBe(true);
  await expect(paragraphsOf(bob)).toHaveText([""]);
});
