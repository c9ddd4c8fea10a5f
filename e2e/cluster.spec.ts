/**
 * Cluster mode in the browser: Alice and Bob open the same document on two
 * different Cowrite nodes (two server processes, on different ports, built
 * as `npm run build` builds them), which share one private PostgreSQL
 * database and one private Redis.
 *
 * The services start once per worker (a worker-scoped fixture) and stop,
 * by PID, when the worker ends. If PostgreSQL or Redis cannot start, the
 * fixture throws and every test here fails: nothing is skipped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, test as base, type Page } from "@playwright/test";
import { startPostgres } from "../server/test/postgres-server.ts";
import { startRedisServer } from "../server/test/redis-server.ts";
import {
  createDocument,
  documentUrl,
  editorOf,
  expect,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
  remoteCaretOf,
} from "./fixtures.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Node {
  /** http://127.0.0.1:PORT */
  url: string;
  child: ChildProcess;
  /** Everything the process printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

interface Cluster {
  nodes: [Node, Node];
}

/**
 * Starts `server/dist/main.js` on a free port (PORT=0; the port is read from
 * the "listening" log line) and resolves once it listens.
 */
function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, ["--enable-source-maps", "server/dist/main.js"], {
    cwd: repoRoot,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(String(signal ?? code)));
  });
  return new Promise((resolve, reject) => {
    const onData = () => {
      const match = /"port":(\d+).*Cowrite is listening/.exec(output);
      if (!match) return;
      child.stdout?.off("data", onData);
      resolve({
        url: `http://127.0.0.1:${match[1]}`,
        child,
        output: () => output,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          await exited;
        },
      });
    };
    child.stdout?.on("data", onData);
    void exited.then((how) =>
      reject(new Error(`a cluster node exited (${how}) before listening:\n${output}`)),
    );
  });
}

/**
 * Awaits every start, registering a stop for each that succeeded, then
 * throws the first failure: a half-started cluster is still stopped.
 */
async function startAll<T extends unknown[]>(
  stops: (() => Promise<void>)[],
  starts: { [K in keyof T]: Promise<T[K] & { stop(): Promise<void> }> },
): Promise<T> {
  const settled = await Promise.allSettled(starts);
  for (const result of settled) {
    if (result.status === "fulfilled") stops.push(() => result.value.stop());
  }
  for (const result of settled) {
    if (result.status === "rejected") throw result.reason;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}

interface ClusterFixtures {
  /** A document created (on node A) for this test alone. */
  docId: string;
  /** Alice, with the document open on node A. */
  alice: Page;
  /** Bob, with the document open on node B. */
  bob: Page;
}

const test = base.extend<ClusterFixtures, { cluster: Cluster }>({
  cluster: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads the fixtures a fixture needs from this pattern.
    async ({}, use) => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cowrite-e2e-cluster-"));
      const stops: (() => Promise<void>)[] = [];
      try {
        const [postgres, redis] = await startAll(stops, [startPostgres(), startRedisServer()]);
        const databaseUrl = await postgres.createDatabase();
        const env = (name: string) => ({
          DATABASE_URL: databaseUrl,
          REDIS_URL: redis.url,
          // Unused with DATABASE_URL, but kept private all the same.
          DATA_DIR: path.join(dataDir, name),
        });
        const nodes = await startAll(stops, [startNode(env("a")), startNode(env("b"))]);
        await use({ nodes });
      } finally {
        // Nodes first, then Redis and PostgreSQL under them.
        for (const stop of stops.reverse()) await stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
    { scope: "worker", timeout: 60_000 },
  ],
  docId: async ({ cluster, playwright }, use) => {
    const request = await playwright.request.newContext({ baseURL: cluster.nodes[0].url });
    const { id } = await createDocument(request);
    await request.dispose();
    await use(id);
  },
  alice: async ({ browser, cluster, docId }, use) => {
    const context = await browser.newContext({ baseURL: cluster.nodes[0].url });
    await use(await openAs(context, docId, "Alice"));
    await context.close();
  },
  bob: async ({ browser, cluster, docId }, use) => {
    const context = await browser.newContext({ baseURL: cluster.nodes[1].url });
    await use(await openAs(context, docId, "Bob"));
    await context.close();
  },
});

async function openAs(context: BrowserContext, docId: string, name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(documentUrl(docId, name));
  await expectReady(page);
  return page;
}

// One worker runs these in order, so the cluster starts once. Two nodes and
// their services share the two cores with the browsers: more time per test.
test.describe.configure({ mode: "default", timeout: 60_000 });

test.afterEach(async ({ cluster }, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus) return;
  for (const [i, node] of cluster.nodes.entries()) {
    await testInfo.attach(`node-${i === 0 ? "a" : "b"}.log`, { body: node.output() });
  }
});

test("text typed on one node appears for the user on the other, both ways, and is saved", async ({
  cluster,
  alice,
  bob,
}) => {
  expect(cluster.nodes[0].url).not.toBe(cluster.nodes[1].url);
  expect(new URL(alice.url()).origin).toBe(cluster.nodes[0].url);
  expect(new URL(bob.url()).origin).toBe(cluster.nodes[1].url);

  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Typed on node A");
  await expect(paragraphsOf(bob)).toHaveText(["Typed on node A"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");

  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("Typed on node B");
  await expect(paragraphsOf(alice)).toHaveText(["Typed on node A", "Typed on node B"]);
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");
});

test("a page opened later on either node loads what both saved", async ({
  browser,
  cluster,
  docId,
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("From Alice");
  await expect(paragraphsOf(bob)).toHaveText(["From Alice"]);
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("From Bob");
  await expect(paragraphsOf(alice)).toHaveText(["From Alice", "From Bob"]);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");

  for (const node of cluster.nodes) {
    const context = await browser.newContext({ baseURL: node.url });
    try {
      const carol = await openAs(context, docId, "Carol");
      await expect(paragraphsOf(carol)).toHaveText(["From Alice", "From Bob"]);
    } finally {
      await context.close();
    }
  }
});

test("each user sees the other, connected to the other node, in the presence list", async ({
  alice,
  bob,
}) => {
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);
});

test("each user sees the caret of the user on the other node", async ({ alice, bob }) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Alice was here");
  await expect(paragraphsOf(bob)).toHaveText(["Alice was here"]);
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());

  await expect(remoteCaretOf(bob, "Alice")).toBeVisible();
  await expect(remoteCaretOf(alice, "Bob")).toBeVisible();
  await expect(remoteCaretOf(alice, "Alice")).toHaveCount(0);
  await expect(remoteCaretOf(bob, "Bob")).toHaveCount(0);
});

test("a user whose page closes leaves the presence list on the other node", async ({
  alice,
  bob,
}) => {
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);

  await bob.close();

  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)"]);
});

test("users typing at once on two nodes in the same paragraph end with equal editors", async ({
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
    alice.keyboard.type("Alice wrote this on node A "),
    bob.keyboard.type(" Bob wrote this on node B"),
  ]);

  const expected = ["Alice wrote this on node A [middle] Bob wrote this on node B"];
  await expect(paragraphsOf(alice)).toHaveText(expected);
  await expect(paragraphsOf(bob)).toHaveText(expected);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");
});

test("users typing at once on two nodes at the same spot, with new paragraphs, end with equal editors", async ({
  alice,
  bob,
}) => {
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("start");
  await expect(paragraphsOf(bob)).toHaveText(["start"]);

  // Both at the end of the one paragraph: their keystrokes interleave in an
  // order nobody can predict, but both editors must end up the same.
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  const aliceText = " alice one two three";
  const bobText = " bob four five six";
  await Promise.all([
    (async () => {
      await alice.keyboard.type(aliceText);
      await alice.keyboard.press("Enter");
      await alice.keyboard.type("alice line");
    })(),
    (async () => {
      await bob.keyboard.type(bobText);
      await bob.keyboard.press("Enter");
      await bob.keyboard.type("bob line");
    })(),
  ]);

  // Every character typed, in both editors (paragraph breaks aside).
  const length = ["start", aliceText, "alice line", bobText, "bob line"].join("").length;
  const typed = async (page: Page) => (await paragraphsOf(page).allTextContents()).join("").length;
  await expect.poll(() => typed(alice)).toBe(length);
  await expect.poll(() => typed(bob)).toBe(length);
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  // Equal, block by block.
  const aliceBlocks = await editorOf(alice).locator(":scope > *").allTextContents();
  await expect(editorOf(bob).locator(":scope > *")).toHaveText(aliceBlocks);
  await expect(editorOf(alice).locator(":scope > *")).toHaveText(aliceBlocks);
  await expect(paragraphsOf(alice)).toHaveCount(3);
});
