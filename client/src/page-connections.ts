/**
 * The shared connection (shared-connection.ts) of one page to one server:
 * every editor embedded in the page finds the same one here, so a page with
 * five editors opens one WebSocket, not five.
 *
 * This is the one registry kept across calls, on purpose: "one connection
 * per page" is state of the page, and a page is what a Document is. Keyed
 * by the Document (weakly), so an iframe has its own and a test's jsdom
 * document starts empty.
 *
 * The shared connection itself falls back to HTTP where WebSocket is
 * blocked (fallback-socket.ts; one HTTP session then carries every
 * document) and moves back when a WebSocket gets through. Where it cannot
 * be used at all (a server that does not speak it), each document gets a
 * socket of its own that falls back to HTTP, one fallback per document so
 * that each moves back to WebSocket on its own.
 */
import { createFallbackWebSocket } from "./fallback-socket.ts";
import type { WebSocketConstructor } from "./provider.ts";
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
    connection = new SharedConnection({
      url,
      WebSocketImpl: createFallbackWebSocket({ WebSocket: WebSocketImpl }) as WebSocketConstructor,
      fallback: fallbackPerDocument(WebSocketImpl),
      // The fallback tries a WebSocket for 3 s before HTTP: give both time.
      openTimeoutMs: 10_000,
    });
    connections.set(url, connection);
  }
  return connection;
}

/** A constructor handing each document's sockets to that document's own fallback. */
function fallbackPerDocument(WebSocketImpl: WebSocketConstructor): WebSocketConstructor {
  const byDocument = new Map<string, WebSocketConstructor>();
  return function SocketOfItsOwn(url: string, protocols?: string[]) {
    const key = new URL(url).pathname;
    let Fallback = byDocument.get(key);
    if (Fallback === undefined) {
      Fallback = createFallbackWebSocket({ WebSocket: WebSocketImpl });
      byDocument.set(key, Fallback);
    }
    return new Fallback(url, protocols);
  } as unknown as WebSocketConstructor;
}
