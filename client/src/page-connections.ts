/**
 * The shared connection (shared-connection.ts) of one page to one server:
 * every editor embedded in the page finds the same one here, so a page with
 * five editors opens one WebSocket, not five.
 *
 * This is the one registry kept across calls, on purpose: "one connection
 * per page" is state of the page, and a page is what a Document is. Keyed
 * by the Document (weakly), so an iframe has its own and a test's jsdom
 * document starts empty.
 */
import { SharedConnection } from "./shared-connection.ts";

const byPage = new WeakMap<Document, Map<string, SharedConnection>>();

/** The shared connection of `page` to the WebSocket base URL `url`, created on first use. */
export function sharedConnectionFor(page: Document, url: string): SharedConnection {
  let connections = byPage.get(page);
  if (connections === undefined) {
    connections = new Map();
    byPage.set(page, connections);
  }
  let connection = connections.get(url);
  if (connection === undefined) {
    const WebSocketImpl = page.defaultView?.WebSocket ?? globalThis.WebSocket;
    connection = new SharedConnection({ url, WebSocketImpl });
    connections.set(url, connection);
  }
  return connection;
}
