import { encodeFrame } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { tempDir } from "./helpers.ts";
import { type ServerProcess, startServerProcess } from "./process.ts";

// Issue 3, "Limits": a client that stops reading is closed, and the server's
// memory stays flat instead of buffering everything for it.

const MB = 1024 * 1024;
const FLOOD_ROUNDS = 160; // 160 rounds x 15 x 64 KiB = 150 MiB inserted (and deleted)
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    cleanups.push(() => ws.terminate());
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function socketOf(ws: WebSocket): { pause(): void; resume(): void } {
  return (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

interface FloodResult {
  rssBefore: number;
  rssAfter: number;
  readerClosedWith: Promise<number>;
  writer: WebSocket;
}

/** Floods one document through a writer while a reader reads, or does not. */
async function flood(readerReads: boolean): Promise<FloodResult> {
  const server: ServerProcess = await startServerProcess({
    DATA_DIR: tempDir(),
    MAX_BUFFERED_BYTES: String(4 * MB),
    MAX_MESSAGES_PER_SECOND: "100000",
    // No compaction during the flood: merging 150 MiB of edits has its own
    // memory peak (in the storage thread) that would drown what this measures.
    COMPACT_EVERY: "1000000",
  });
  cleanups.push(async () => {
    server.child.kill("SIGKILL");
    await server.exited;
  });
  const reader = await openSocket(`${server.wsUrl}/flood`);
  const readerClosedWith = new Promise<number>((resolve) => reader.on("close", resolve));
  // A reader that stops reading: the kernel buffers fill, then the server's queue grows.
  if (!readerReads) socketOf(reader).pause();

  const writer = await openSocket(`${server.wsUrl}/flood`);
  let answers = 0;
  writer.on("message", (data: Buffer) => {
    if (data[0] === 0 && data[1] === 1) answers++;
  });
  const doc = new Y.Doc();
  const text = doc.getText("t");
  const updates: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => updates.push(update));
  const chunk = "x".repeat(64 * 1024);
  const rssBefore = server.rssBytes();
  for (let round = 0; round < FLOOD_ROUNDS; round++) {
    // Insert and delete, so the document stays small (deleted content is
    // garbage collected) while every update is broadcast in full.
    for (let i = 0; i < 15; i++) {
      text.insert(0, chunk);
      text.delete(0, chunk.length);
    }
    for (const update of updates.splice(0)) writer.send(encodeFrame({ type: "update", update }));
    writer.send(encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(doc) }));
    const want = round + 1;
    // The answer to our step 1 proves the server handled this round.
    await new Promise<void>((resolve) => {
      const check = () => {
        if (answers < want) return;
        writer.off("message", check);
        resolve();
      };
      writer.on("message", check);
      check();
    });
  }
  const rssAfter = server.rssBytes();
  if (!readerReads) socketOf(reader).resume();
  return { rssBefore, rssAfter, readerClosedWith, writer };
}

describe("slow readers", () => {
  it("a client that stops reading is cut off and the server's memory stays flat", async () => {
    // The same flood with a reader that keeps up is the baseline: what the
    // server's memory does anyway (heap growth from handling 150 MiB).
    const normal = await flood(true);
    const slow = await flood(false);
    const grewNormal = normal.rssAfter - normal.rssBefore;
    const grewSlow = slow.rssAfter - slow.rssBefore;
    console.error(
      `slow reader: server RSS grew ${(grewSlow / MB).toFixed(1)} MB with a stalled client, ` +
        `${(grewNormal / MB).toFixed(1)} MB with a reading one (flood: 150 MiB)`,
    );
    expect([1006, 1013]).toContain(await slow.readerClosedWith);
    expect(slow.writer.readyState).toBe(WebSocket.OPEN);
    expect(normal.writer.readyState).toBe(WebSocket.OPEN);
    // Without the cap the stalled client alone would pin ~150 MiB of frames; the rest is noise from garbage collection timing.
    expect(grewSlow - grewNormal).toBeLessThan(48 * MB);
  }, 90_000);
});
