import { expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("edits made while offline reach the other user after reconnecting", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("online.");
  await expect(paragraphsOf(bob)).toHaveText(["online."]);

  await alice.context().setOffline(true);
  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", /offline|reconnecting/);

  await alice.keyboard.type(" Written offline.");
  await expect(paragraphsOf(alice)).toHaveText(["online. Written offline."]);
  // Not on the server yet, but kept on Alice's device (IndexedDB).
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "on-device");
  // Meanwhile Bob keeps writing in a paragraph of his own.
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("Bob stayed online.");

  await alice.context().setOffline(false);

  await expect(alice.getByTestId("status")).toHaveAttribute("data-state", "connected");
  const expected = ["online. Written offline.", "Bob stayed online."];
  await expect(paragraphsOf(bob)).toHaveText(expected);
  await expect(paragraphsOf(alice)).toHaveText(expected);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
});
