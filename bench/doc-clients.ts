/**
 * One document client of each kind for the small benches (pages.ts,
 * transports.ts): Cowrite's provider over any WebSocket-like transport, and
 * the stock y-websocket client for the reference server.
 */
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { CowriteProvider, type WebSocketConstructor } from "../client/src/provider.ts";

// The stock y-websocket client adds a process "exit" listener per provider.
process.setMaxListeners(0);

export interface DocClient {
  doc: Y.Doc;
  /** Resolves at the first sync with the server. */
  synced: Promise<void>;
  destroy(): void;
}

export function cowriteClient(
  url: string,
  docId: string,
  WebSocketImpl: WebSocketConstructor,
): DocClient {
  const doc = new Y.Doc();
  const provider = new CowriteProvider({
    url,
    docId,
    doc,
    WebSocketImpl,
    windowTarget: null,
    documentTarget: null,
  });
  const synced = new Promise<void>((resolve) => {
    provider.on("sync", (isSynced) => isSynced && resolve());
  });
  return { doc, synced, destroy: () => provider.destroy() };
}

export function referenceClient(url: string, docId: string): DocClient {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(url, docId, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    resyncInterval: -1,
  });
  const synced = new Promise<void>((resolve) => {
    provider.on("sync", (isSynced: boolean) => isSynced && resolve());
  });
  return { doc, synced, destroy: () => provider.destroy() };
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} timed out`)), ms).unref(),
    ),
  ]);
}

/** The `ws` package's WebSocket, as the provider types a WebSocket constructor. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;
