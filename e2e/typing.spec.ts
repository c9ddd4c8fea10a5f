import { editorOf, expect, paragraphsOf, placeCaretAtEnd, test } from "./fixtures.ts";

test("text typed by one user appears for the other", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Hello from Alice");

  await expect(paragraphsOf(bob)).toHaveText(["Hello from Alice"]);
});

test("two users typing at once in different paragraphs both keep their text", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("first");
  await alice.keyboard.press("Enter");
  await alice.keyboard.type("second");
  await expect(paragraphsOf(bob)).toHaveText(["first", "second"]);

  await placeCaretAtEnd(alice, paragraphsOf(alice).nth(0));
  await placeCaretAtEnd(bob, paragraphsOf(bob).nth(1));
  await Promise.all([
    alice.keyboard.type(" and Alice types here at the same time"),
    bob.keyboard.type(" while Bob types there"),
  ]);

  const expected = ["first and Alice types here at the same time", "second while Bob types there"];
  await expect(paragraphsOf(alice)).toHaveText(expected);
  await expect(paragraphsOf(bob)).toHaveText(expected);
});

test("two users typing at once in the same paragraph converge on the same text", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("[middle]");
  await expect(paragraphsOf(bob)).toHaveText(["[middle]"]);

  // Alice writes before the existing text, Bob after it.
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.press("Home");
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await Promise.all([
    alice.keyboard.type("Alice wrote this "),
    bob.keyboard.type(" Bob wrote this"),
  ]);

  const expected = "Alice wrote this [middle] Bob wrote this";
  await expect(editorOf(alice)).toHaveText(expected);
  await expect(editorOf(bob)).toHaveText(expected);
  await expect(paragraphsOf(alice)).toHaveCount(1);
  await expect(paragraphsOf(bob)).toHaveCount(1);
});

test("two users typing at the same spot at once keep each one's words together", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Start:");
  await expect(paragraphsOf(bob)).toHaveText(["Start:"]);

  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  const alices = "the quick brown fox.";
  const bobs = "quick brown foxes jump.";
  await Promise.all([
    alice.keyboard.type(alices, { delay: 40 }),
    bob.keyboard.type(bobs, { delay: 40 }),
  ]);

  const both = [`Start:${alices}${bobs}`, `Start:${bobs}${alices}`];
  await expect
    .poll(async () => (await paragraphsOf(alice).first().textContent()) ?? "")
    .toMatch(new RegExp(`^(${both.map(escapeRegExp).join("|")})$`));
  const text = (await paragraphsOf(alice).first().textContent()) ?? "";
  await expect(paragraphsOf(bob)).toHaveText([text]);
});

test("typing inside a word someone else is typing keeps both people's letters apart", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("alpha omega");
  await expect(paragraphsOf(bob)).toHaveText(["alpha omega"]);

  // Both carets between "alpha" and " omega".
  for (const page of [alice, bob]) {
    await placeCaretAtEnd(page, paragraphsOf(page).first());
    for (let i = 0; i < " omega".length; i++) await page.keyboard.press("ArrowLeft");
  }
  await Promise.all([
    alice.keyboard.type("AAAA-", { delay: 40 }),
    bob.keyboard.type("bbbb-", { delay: 40 }),
  ]);

  const both = ["alphaAAAA-bbbb- omega", "alphabbbb-AAAA- omega"];
  await expect
    .poll(async () => (await paragraphsOf(alice).first().textContent()) ?? "")
    .toMatch(new RegExp(`^(${both.map(escapeRegExp).join("|")})$`));
  const text = (await paragraphsOf(alice).first().textContent()) ?? "";
  await expect(paragraphsOf(bob)).toHaveText([text]);
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
