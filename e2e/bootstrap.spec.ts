import { editorOf, expect, paragraphsOf, test } from "./fixtures.ts";

test("two users opening a new document at once get exactly one empty paragraph", async ({
  openDocument,
}) => {
  const [alice, bob] = await Promise.all([openDocument("Alice"), openDocument("Bob")]);

  // A barrier that leaves the body alone: once each sees a title change the
  // other made afterwards, each has every update the other sent before it,
  // including any first paragraph.
  await alice.getByTestId("title").fill("Barrier");
  await expect(bob.getByTestId("title")).toHaveValue("Barrier");
  await bob.getByTestId("title").press("End");
  await bob.getByTestId("title").pressSequentially("!");
  await expect(alice.getByTestId("title")).toHaveValue("Barrier!");

  for (const page of [alice, bob]) {
    await expect(editorOf(page).locator(":scope > *")).toHaveCount(1);
    await expect(paragraphsOf(page)).toHaveText([""]);
  }

  // Someone arriving later loads the same single paragraph from the server.
  const carol = await openDocument("Carol");
  await expect(carol.getByTestId("title")).toHaveValue("Barrier!");
  await expect(editorOf(carol).locator(":scope > *")).toHaveCount(1);
  await expect(paragraphsOf(carol)).toHaveText([""]);
});
