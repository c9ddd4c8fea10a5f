/**
 * Big document: one large Yjs update pushed to a fresh document, then the
 * time for fresh clients to sync it warm (one, then several at once) and cold
 * (after a server restart on the same data directory).
 */
import * as Y from "yjs";
import { BenchClient, closeAll, withTimeout } from "../clients.ts";
import type { Measurement } from "../report.ts";
import { makeTempDir, removeTempDir, type ServerKind, ServerProcess, sleep } from "../servers.ts";

export interface BigDocParams {
  /** Characters inserted into the Y.Text. */
  characters: number;
  concurrentClients: number;
}

const SYNC_TIMEOUT_MS = 60_000;
const CHUNK = 1000;

/** Builds the update once per run: chunks at random positions so it has many items, not one. */
export function buildBigUpdate(characters: number): Uint8Array {
  const doc = new Y.Doc();
  const text = doc.getText("text");
  const chunk = "lorem ipsum dolor sit amet, é ü ".repeat(Math.ceil(CHUNK / 32)).slice(0, CHUNK);
  for (let inserted = 0; inserted < characters; inserted += CHUNK) {
    text.insert(Math.floor(Math.random() * (text.length + 1)), chunk);
  }
  return Y.encodeStateAsUpdate(doc);
}

async function timeSync(
  server: ServerProcess,
  room: string,
  count: number,
  expectedLength: number,
): Promise<number> {
  const started = performance.now();
  const clients = Array.from({ length: count }, () => new BenchClient(server.url(room)));
  try {
    // "Synced" = the whole text is present. Cowrite sends it in the step 2;
    // the reference may answer the step 1 before its LevelDB load finishes
    // and send the content as a later update, so wait for the content itself.
    const deadline = started + SYNC_TIMEOUT_MS;
    await withTimeout(Promise.all(clients.map((c) => c.synced)), SYNC_TIMEOUT_MS, `${count} syncs`);
    while (clients.some((c) => c.doc.getText("text").length !== expectedLength)) {
      if (performance.now() > deadline) {
        const lengths = clients.map((c) => c.doc.getText("text").length).join(",");
        throw new Error(`synced lengths ${lengths}, expected ${expectedLength}`);
      }
      await sleep(5);
    }
    return performance.now() - started;
  } finally {
    await closeAll(clients);
  }
}

export async function runBigDoc(
  kind: ServerKind,
  params: BigDocParams,
  update: Uint8Array,
): Promise<Measurement[]> {
  const dataDir = makeTempDir(`bigdoc-${kind}`);
  const room = "bigdoc";
  let server = await ServerProcess.start(kind, dataDir);
  try {
    const expected = new Y.Doc();
    Y.applyUpdate(expected, update);
    const expectedLength = expected.getText("text").length;

    // The writer stays connected through the warm measurements so the
    // document stays loaded (the reference unloads a document with no clients).
    const writer = new BenchClient(server.url(room));
    const pushStarted = performance.now();
    let warmOne: number;
    let warmMany: number;
    let pushMs: number;
    try {
      await withTimeout(writer.synced, SYNC_TIMEOUT_MS, "writer sync");
      Y.applyUpdate(writer.doc, update); // local origin: sent as one update frame
      // The step 2 answering this step 1 comes after the server processed the update.
      await withTimeout(writer.roundTrip(), SYNC_TIMEOUT_MS, "big update acknowledgement");
      pushMs = performance.now() - pushStarted;
      warmOne = await timeSync(server, room, 1, expectedLength);
      warmMany = await timeSync(server, room, params.concurrentClients, expectedLength);
    } finally {
      await writer.close();
    }
    const warmRss = server.stats().rssBytes;

    // The reference persists to LevelDB asynchronously and has no graceful
    // shutdown, so give both servers a moment before the restart.
    await sleep(1000);
    await server.stop();
    server = await ServerProcess.start(kind, dataDir);
    let cold: number | null;
    try {
      cold = await timeSync(server, room, 1, expectedLength);
    } catch (error) {
      // Cowrite must not lose data; the reference's loss is reported, not fatal.
      if (kind === "cowrite") throw error;
      process.stderr.write(`[bench] reference cold load failed: ${(error as Error).message}\n`);
      cold = null;
    }
    if (server.crashed) throw new Error(`${kind} server crashed during big-doc`);
    return [
      { metric: "bigdoc update size", unit: "KB", value: update.byteLength / 1024 },
      { metric: "bigdoc push + ack", unit: "ms", value: pushMs },
      { metric: "bigdoc warm sync, 1 client", unit: "ms", value: warmOne },
      {
        metric: `bigdoc warm sync, ${params.concurrentClients} clients`,
        unit: "ms",
        value: warmMany,
      },
      { metric: "bigdoc server RSS warm", unit: "MB", value: warmRss / 2 ** 20 },
      { metric: "bigdoc cold sync after restart", unit: "ms", value: cold },
    ];
  } finally {
    await server.stop();
    removeTempDir(dataDir);
  }
}
