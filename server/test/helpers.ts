import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach } from "vitest";
import WebSocket from "ws";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { type CowriteServer, createServer, type ServerOptions } from "../src/server.ts";
import type { DocStore } from "../src/storage/doc-store.ts";
import { SqliteDocStore } from "../src/storage/sqlite.ts";

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A promise with its resolve function, for gating a fake store in tests. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * Holds every append of `store` until `release()`; `started` resolves when
 * the first one arrives. For tests of what happens while a write is on its way.
 */
export function gateAppends(store: DocStore): { started: Promise<void>; release: () => void } {
  const append = store.append.bind(store);
  const gate = deferred();
  const first = deferred();
  store.append = async (...args) => {
    first.resolve();
    await gate.promise;
    return append(...args);
  };
  return { started: first.promise, release: gate.resolve };
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "cowrite-test-"));
}

/**
 * Runs an ES module script (TypeScript imports allowed) in a node process of
 * its own, with `nodeFlags` such as --expose-gc; returns the JSON it prints.
 * For measurements the test runner's own heap would disturb.
 */
export function runNodeScript<T>(script: string, nodeFlags: string[] = []): T {
  const output = execFileSync(
    process.execPath,
    [...nodeFlags, "--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  return JSON.parse(output) as T;
}

/**
 * Cleanups that run after each test of the calling file, last registered
 * first: `const defer = useCleanups();` at the top of a test file, then
 * `defer(() => thing.close())` in a test.
 */
export function useCleanups(): (cleanup: () => Promise<void> | void) => void {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}

/** A `startServer` whose servers `defer` stops after the test, with `defaults` under each call's options. */
export function serverStarter(
  defer: (cleanup: () => Promise<void>) => void,
  defaults: () => Partial<ServerOptions> = () => ({}),
): (options?: Parameters<typeof startServer>[0]) => Promise<Running> {
  return async (options = {}) => {
    const running = await startServer({ ...defaults(), ...options });
    defer(() => running.stop());
    return running;
  };
}

/** A port the OS says is free right now (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface Running {
  server: CowriteServer;
  store: DocStore;
  url: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** A real server on a free port (or `port`) with a real SQLite file (or the store given). */
export async function startServer(
  options: Partial<ServerOptions> & { dir?: string; port?: number } = {},
): Promise<Running> {
  const store =
    options.store ?? new SqliteDocStore(path.join(options.dir ?? tempDir(), "cowrite.db"));
  // As main.ts does: the database is open before
  // the first client arrives.
  await store.ping();
  const server = createServer({ logger: silentLogger, heartbeatMs: 0, ...options, store });
  const address = await server.listen(options.port ?? 0, "127.0.0.1");
  const url = `http://127.0.0.1:${address.port}`;
  return {
    server,
    store,
    url,
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    async stop() {
      await server.close();
      await store.close();
    },
  };
}

/** The standard y-websocket client, unmodified. */
export function connectProvider(wsUrl: string, docId: string, doc = new Y.Doc()) {
  const provider = new WebsocketProvider(wsUrl, docId, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    resyncInterval: -1,
  });
  return { doc, provider };
}

export function whenSynced(provider: WebsocketProvider): Promise<void> {
  if (provider.synced) return Promise.resolve();
  return new Promise((resolve) => {
    const onSync = (synced: boolean) => {
      if (!synced) return;
      provider.off("sync", onSync);
      resolve();
    };
    provider.on("sync", onSync);
  });
}

/** Resolves when `check(doc)` holds, re-checking after every update of the doc. */
export function whenDoc(doc: Y.Doc, check: (doc: Y.Doc) => boolean): Promise<void> {
  if (check(doc)) return Promise.resolve();
  return new Promise((resolve) => {
    const onUpdate = () => {
      if (!check(doc)) return;
      doc.off("update", onUpdate);
      resolve();
    };
    doc.on("update", onUpdate);
  });
}

export interface RawClient {
  ws: WebSocket;
  messages: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
  /** Resolves with the next message that satisfies `match` (already received ones count). */
  next(match?: (bytes: Uint8Array) => boolean): Promise<Uint8Array>;
}

/** A bare ws client that records every binary message. */
export function rawClient(
  url: string,
  options: WebSocket.ClientOptions = {},
  protocols: string[] = [],
): RawClient {
  const ws = new WebSocket(url, protocols, options);
  const messages: Uint8Array[] = [];
  const waiters: { match: (bytes: Uint8Array) => boolean; resolve: (b: Uint8Array) => void }[] = [];
  let consumed = 0;
  ws.on("message", (data: Buffer) => {
    const bytes = new Uint8Array(data);
    messages.push(bytes);
    for (const waiter of [...waiters]) {
      if (waiter.match(bytes)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(bytes);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    closed,
    opened,
    next(match = () => true) {
      const found = messages.slice(consumed).find(match);
      if (found) {
        consumed = messages.indexOf(found) + 1;
        return Promise.resolve(found);
      }
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** Mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A valid update that inserts and deletes text on top of `base`, with one to
 * three bytes flipped until Yjs can no longer decode it.
 */
export function corruptedUpdate(base: Uint8Array, random: () => number): Uint8Array {
  const writer = new Y.Doc();
  Y.applyUpdate(writer, base);
  const updates: Uint8Array[] = [];
  writer.on("update", (update: Uint8Array) => updates.push(update));
  const text = writer.getText("t");
  text.insert(Math.floor(random() * text.length), "INJECTED words of an attacker");
  text.delete(Math.floor(random() * 10), 3);
  const valid = Y.mergeUpdates(updates);
  for (;;) {
    const bytes = valid.slice();
    const flips = 1 + Math.floor(random() * 3);
    for (let i = 0; i < flips; i++)
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    try {
      Y.decodeUpdate(bytes);
    } catch {
      return bytes;
    }
  }
}

/** An HTTP request to a test server, its JSON answer parsed (null for an empty body). */
export async function fetchJson(baseUrl: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${baseUrl}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** A request sending `body` as JSON, with a bearer token when given. */
export function jsonRequest(method: string, body: unknown, token?: string): RequestInit {
  return {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  };
}
