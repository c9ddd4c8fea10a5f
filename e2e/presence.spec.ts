import {
  expect,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
  remoteCaretOf,
  test,
} from "./fixtures.ts";

test("each user sees the other in the presence list by name", async ({ alice, bob }) => {
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);
  await expect(alice.locator('[data-testid="presence-user"][data-self="true"]')).toContainText(
    "Alice (you)",
  );
  await expect(bob.locator('[data-testid="presence-user"][data-self="true"]')).toContainText(
    "Bob (you)",
  );
});

test("each user sees the other's caret labelled with the other's name", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Alice was here");
  await expect(paragraphsOf(bob)).toHaveText(["Alice was here"]);
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());

  await expect(remoteCaretOf(bob, "Alice")).toBeVisible();
  await expect(remoteCaretOf(alice, "Bob")).toBeVisible();
  // Nobody sees a caret of their own.
  await expect(remoteCaretOf(alice, "Alice")).toHaveCount(0);
  await expect(remoteCaretOf(bob, "Bob")).toHaveCount(0);
});

test("a user who closes the page leaves the others' presence list", async ({ alice, bob }) => {
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);

  await bob.close();

  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)"]);
});
