/**
 * The HTTP fallback (PROTOCOL.md §7) in a browser: Bob reaches the server
 * only through a proxy that refuses WebSocket upgrades, as some corporate
 * proxies do; he edits with Alice (connected directly) over HTTP, and moves
 * back to a WebSocket once the proxy lets upgrades through.
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { BrowserContext } from "@playwright/test";
import {
  test as base,
  documentUrl,
  expect,
  expectReady,
  paragraphsOf,
  placeCaretAtEnd,
  presenceNamesOf,
  remoteCaretOf,
} from "./fixtures.ts";

/** A reverse proxy to `target` that destroys upgrade requests unless `allowUpgrades`. */
async function startProxy(target: URL) {
  // `opened`: the paths of session-opening requests (POST /http/<doc or ~>).
  const state = { allowUpgrades: false, refused: 0, forwarded: 0, opened: [] as string[] };
  const sockets = new Set<Duplex>();
  const server = http.createServer((req, res) => {
    if (req.method === "POST" && /^\/http\/[^/]+$/.test(req.url ?? "")) {
      state.opened.push(req.url ?? "");
    }
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket, head) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (!state.allowUpgrades) {
      state.refused++;
      socket.destroy();
      return;
    }
    state.forwarded++;
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    state,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `refusingProxy` in front of the test server, and `proxied`, a browser context that goes through it. */
const test = base.extend<{ refusingProxy: Proxy; proxied: BrowserContext }>({
  refusingProxy: async ({ baseURL }, use) => {
    const proxy = await startProxy(new URL(baseURL ?? ""));
    await use(proxy);
    await proxy.close();
  },
  proxied: async ({ browser, refusingProxy }, use) => {
    const context = await browser.newContext({ baseURL: refusingProxy.url });
    await use(context);
    await context.close();
  },
});

type Proxy = Awaited<ReturnType<typeof startProxy>>;

test("a user behind a proxy that refuses WebSockets edits over HTTP, then moves back to WebSocket", async ({
  refusingProxy: proxy,
  proxied,
  docId,
  alice,
}) => {
  // The move back waits for the client's next WebSocket probe (10 s, then 20 s).
  test.setTimeout(120_000);
  const bob = await proxied.newPage();
  await bob.goto(documentUrl(docId, "Bob"));
  await expectReady(bob);
  const bobStatus = bob.getByTestId("status");
  await expect(bobStatus).toHaveAttribute("data-transport", "http");
  await expect(bobStatus).toHaveText("Connected over HTTP");
  expect(proxy.state.refused).toBeGreaterThan(0);
  await expect(alice.getByTestId("status")).toHaveAttribute("data-transport", "websocket");

  // Presence both ways.
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);
  await expect(presenceNamesOf(bob)).toHaveText(["Bob (you)", "Alice"]);

  // Edits and "saved" both ways.
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type("Alice writes directly.");
  await expect(paragraphsOf(bob)).toHaveText(["Alice writes directly."]);
  await placeCaretAtEnd(bob, paragraphsOf(bob).first());
  await bob.keyboard.press("Enter");
  await bob.keyboard.type("Bob writes over HTTP.");
  const both = ["Alice writes directly.", "Bob writes over HTTP."];
  await expect(paragraphsOf(alice)).toHaveText(both);
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(alice.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await expect(remoteCaretOf(alice, "Bob")).toBeVisible();
  await expect(bobStatus).toHaveAttribute("data-transport", "http");

  // The proxy now lets upgrades through: Bob's next probe opens, and he moves back.
  proxy.state.allowUpgrades = true;
  await expect(bobStatus).toHaveAttribute("data-transport", "websocket", { timeout: 60_000 });
  await expect(bobStatus).toHaveAttribute("data-state", "connected");
  await expect(bobStatus).toHaveText("Connected");
  expect(proxy.state.forwarded).toBeGreaterThan(0);

  await bob.keyboard.type(" Now over a WebSocket.");
  const after = ["Alice writes directly.", "Bob writes over HTTP. Now over a WebSocket."];
  await expect(paragraphsOf(alice)).toHaveText(after);
  await expect(bob.getByTestId("saved")).toHaveAttribute("data-state", "saved");
  await placeCaretAtEnd(alice, paragraphsOf(alice).first());
  await alice.keyboard.type(" Still here.");
  await expect(paragraphsOf(bob)).toHaveText([
    "Alice writes directly. Still here.",
    "Bob writes over HTTP. Now over a WebSocket.",
  ]);
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);
});

test("a user on HTTP who closes the page leaves the others' presence list at once", async ({
  proxied,
  docId,
  alice,
}) => {
  const bob = await proxied.newPage();
  await bob.goto(documentUrl(docId, "Bob"));
  await expectReady(bob);
  await expect(bob.getByTestId("status")).toHaveAttribute("data-transport", "http");
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)", "Bob"]);

  await bob.close();

  // Well before the session would expire (30 s without a poll).
  await expect(presenceNamesOf(alice)).toHaveText(["Alice (you)"], { timeout: 5_000 });
});

test("embedded editors behind a proxy that refuses WebSockets share one HTTP session", async ({
  refusingProxy: proxy,
  proxied,
  docId,
  alice,
}) => {
  const page = await proxied.newPage();
  await page.goto(`/embed-demo?doc=${encodeURIComponent(docId)}`);
  const embedA = page.getByTestId("embed-a").getByTestId("cowrite-content");
  await expect(page.getByTestId("status-a")).toHaveText("connected");
  await expect(embedA).toHaveAttribute("contenteditable", "true");
  await embedA.click();
  await page.keyboard.type("from an embed over HTTP");
  await expect(paragraphsOf(alice)).toHaveText(["from an embed over HTTP"]);
  await expect(page.getByTestId("embed-b").getByTestId("cowrite-content")).toHaveText(
    "from an embed over HTTP",
  );
  expect(proxy.state.refused).toBeGreaterThan(0);
  // Five editors, one session: the shared connection, over HTTP.
  expect(proxy.state.opened).toEqual(["/http/~"]);

  // Upgrades get through again: the probe opens, then the shared connection
  // itself moves to a WebSocket, and editing goes on.
  proxy.state.allowUpgrades = true;
  await expect.poll(() => proxy.state.forwarded, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId("status-a")).toHaveText("connected");
  await embedA.press("End");
  await page.keyboard.type(", then a WebSocket");
  await expect(paragraphsOf(alice)).toHaveText(["from an embed over HTTP, then a WebSocket"]);
  expect(proxy.state.opened).toEqual(["/http/~"]);
});
