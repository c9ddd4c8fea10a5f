/**
 * Fixtures for `auth-*.spec.ts`, which run against the server started with
 * AUTH_SECRET (project "auth" in playwright.config.ts): tokens minted with
 * that secret, a fresh document per test created with an all-documents
 * token, and pages opened with a token in their URL.
 */
import type { DocumentMeta } from "@cowrite/shared";
import { type BrowserContext, test as base, expect, type Page } from "@playwright/test";
import { mintToken, type Permission } from "../server/src/auth.ts";
import { AUTH_PORT_VAR, AUTH_SECRET_VAR, PORT_VAR } from "./env-vars.ts";

export { expect };

export const AUTH_SECRET = process.env[AUTH_SECRET_VAR] ?? "";
/** The auth server's WebSocket base, for sockets opened by hand. */
export const AUTH_WS_URL = `ws://127.0.0.1:${process.env[AUTH_PORT_VAR]}/ws`;
/** The auth-off server: same host, other port, so another origin. */
export const OTHER_ORIGIN = `http://127.0.0.1:${process.env[PORT_VAR]}`;

export interface TokenOptions {
  doc: string;
  permission?: Permission;
  name?: string;
  /** Seconds; negative for an already expired token. Default one hour. */
  expiresIn?: number;
  /** Defaults to the server's secret; anything else makes a badly signed token. */
  secret?: string;
}

export function mint(options: TokenOptions): Promise<string> {
  const name = options.name ?? "Tester";
  return mintToken({
    secret: options.secret ?? AUTH_SECRET,
    userId: `user-${name.toLowerCase()}`,
    name,
    doc: options.doc,
    permission: options.permission ?? "write",
    expiresIn: options.expiresIn ?? 3600,
  });
}

export interface AuthFixtures {
  /** Id of a document created for this test alone. */
  docId: string;
  /** Opens `path` (default: this test's document) with `token` in a new browser context. */
  openWithToken: (token: string | null, path?: string) => Promise<Page>;
}

export const test = base.extend<AuthFixtures>({
  docId: async ({ request }, use) => {
    const admin = await mint({ doc: "*", name: "Admin" });
    const response = await request.post("/api/documents", {
      data: {},
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(response.status()).toBe(201);
    const { id } = (await response.json()) as DocumentMeta;
    await use(id);
  },
  openWithToken: async ({ browser, baseURL, docId }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (token, path = `/d/${encodeURIComponent(docId)}`) => {
      const context = await browser.newContext({ baseURL });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(token === null ? path : `${path}?token=${encodeURIComponent(token)}`);
      return page;
    });
    await Promise.all(contexts.map((context) => context.close()));
  },
});

/** What a WebSocket opened from `page` to `url` saw: its first message, or how it closed. */
export function probeSocket(
  page: Page,
  url: string,
): Promise<{ received: boolean; code: number | null; reason: string | null }> {
  return page.evaluate(
    (target) =>
      new Promise<{ received: boolean; code: number | null; reason: string | null }>((resolve) => {
        const socket = new WebSocket(target);
        // A rejected socket opens first (the server refuses after the
        // upgrade so the close code reaches us), so "open" proves nothing;
        // a message from the server does.
        socket.onmessage = () => {
          resolve({ received: true, code: null, reason: null });
          socket.close();
        };
        socket.onclose = (event) =>
          resolve({ received: false, code: event.code, reason: event.reason });
      }),
    url,
  );
}
