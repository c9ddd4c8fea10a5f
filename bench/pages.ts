/**
 * Many editors per page: `npm run bench:pages`.
 *
 * Opens PAGES pages of EDITORS editors each (every editor its own document,
 * as a form with several rich-text fields would have), waits until every
 * editor is synced, then has one editor per page type a word and waits
 * until a second client of that document has it. Three ways, each against a
 * fresh server process:
 * - Cowrite, one shared connection per page (what embedded editors do),
 * - Cowrite, one socket per editor (`sharedConnection: false`),
 * - the reference @y/websocket-server with the stock y-websocket client.
 * Reports the server's sockets, its RSS growth over its idle RSS, and the
 * time to sync every editor; ratios are against the reference.
 */

import type * as Y from "yjs";
import { SharedConnection } from "../client/src/shared-connection.ts";
import { makeTempDir, removeTempDir } from "./children.ts";
import {
  cowriteClient,
  type DocClient,
  NodeWebSocket,
  referenceClient,
  withTimeout,
} from "./doc-clients.ts";
import { type ServerKind, ServerProcess } from "./servers.ts";

const PAGES = Number(process.env.BENCH_PAGES ?? 100);
const EDITORS = Number(process.env.BENCH_EDITORS ?? 5);
const TIMEOUT_MS = 60_000;

type Mode = "shared" | "per-editor" | "reference";

function whenText(doc: Y.Doc, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (doc.getText("t").toString() !== text) return;
      doc.off("update", check);
      resolve();
    };
    doc.on("update", check);
    check();
  });
}

interface Result {
  sockets: number;
  rssGrowthBytes: number;
  syncMs: number;
  editMs: number;
}

async function measure(mode: Mode): Promise<Result> {
  const kind: ServerKind = mode === "reference" ? "reference" : "cowrite";
  const dataDir = makeTempDir(`pages-${mode}`);
  const server = await ServerProcess.start(kind, dataDir);
  const clients: DocClient[] = [];
  const connections: SharedConnection[] = [];
  try {
    const idleRss = server.stats().rssBytes;
    const base = `ws://127.0.0.1:${server.port}${kind === "cowrite" ? "/ws" : ""}`;
    const started = performance.now();
    for (let page = 0; page < PAGES; page++) {
      const shared =
        mode === "shared"
          ? new SharedConnection({
              url: base,
              WebSocketImpl: NodeWebSocket,
            })
          : null;
      if (shared) connections.push(shared);
      for (let editor = 0; editor < EDITORS; editor++) {
        const docId = `page-${page}-editor-${editor}`;
        clients.push(
          mode === "reference"
            ? referenceClient(base, docId)
            : cowriteClient(base, docId, shared?.WebSocketImpl ?? NodeWebSocket),
        );
      }
    }
    await withTimeout(Promise.all(clients.map((client) => client.synced)), "sync", TIMEOUT_MS);
    const syncMs = performance.now() - started;
    // Counted now, before the readers below add sockets of their own.
    const rssGrowthBytes = server.stats().rssBytes - idleRss;
    let sockets = mode === "reference" ? PAGES * EDITORS : 0;
    if (kind === "cowrite") {
      const stats = (await (await fetch(`http://127.0.0.1:${server.port}/api/stats`)).json()) as {
        sockets: number;
      };
      sockets = stats.sockets;
    }

    // One edit per page, seen by a second client of that document.
    const readers: DocClient[] = [];
    for (let page = 0; page < PAGES; page++) {
      const docId = `page-${page}-editor-0`;
      readers.push(
        mode === "reference"
          ? referenceClient(base, docId)
          : cowriteClient(base, docId, NodeWebSocket),
      );
    }
    await withTimeout(Promise.all(readers.map((reader) => reader.synced)), "readers", TIMEOUT_MS);
    const editStarted = performance.now();
    const seen = readers.map((reader, page) => whenText(reader.doc, `page ${page}`));
    for (let page = 0; page < PAGES; page++) {
      clients[page * EDITORS]?.doc.getText("t").insert(0, `page ${page}`);
    }
    await withTimeout(Promise.all(seen), "edits", TIMEOUT_MS);
    const editMs = performance.now() - editStarted;
    for (const reader of readers) reader.destroy();

    server.assertAlive(`pages (${mode})`);
    return { sockets, rssGrowthBytes, syncMs, editMs };
  } finally {
    for (const client of clients) client.destroy();
    for (const connection of connections) connection.close();
    await server.stop();
    removeTempDir(dataDir);
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const results: Partial<Record<Mode, Result>> = {};
for (const mode of ["reference", "per-editor", "shared"] as const) {
  results[mode] = await measure(mode);
}
const reference = results.reference as Result;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const ratio = (value: number, of: number) => (of > 0 ? `${(value / of).toFixed(2)}x` : "n/a");
say(`${PAGES} pages x ${EDITORS} editors (one document each), one edit per page`);
say("| way | server sockets | server RSS growth | sync all | one edit per page delivered |");
say("| --- | --- | --- | --- | --- |");
for (const mode of ["reference", "per-editor", "shared"] as const) {
  const r = results[mode] as Result;
  say(
    `| ${mode} | ${r.sockets} (${ratio(r.sockets, reference.sockets)}) | ${mb(r.rssGrowthBytes)} (${ratio(r.rssGrowthBytes, reference.rssGrowthBytes)}) | ${r.syncMs.toFixed(0)} ms (${ratio(r.syncMs, reference.syncMs)}) | ${r.editMs.toFixed(0)} ms (${ratio(r.editMs, reference.editMs)}) |`,
  );
}
