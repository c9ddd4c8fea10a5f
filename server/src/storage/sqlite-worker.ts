/**
 * The maintenance worker thread: its own SQLite connection to the same file,
 * running the requests SqliteDocStore sends it (compactions, which merge a
 * whole document and can take long for big ones) and checkpointing the WAL
 * every CHECKPOINT_INTERVAL_MS, so neither ever stalls an append on the
 * server's thread. Each message is a batch of requests (sqlite-batch.ts);
 * replies come back in one message per batch.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  executeBatch,
  type NumberedRequest,
  type StoreReply,
  toWireError,
} from "./sqlite-batch.ts";
import { SqliteDatabase } from "./sqlite-db.ts";

export interface WorkerInput {
  sqliteFile: string;
}

const CHECKPOINT_INTERVAL_MS = 500;

const input = workerData as WorkerInput | null;
if (parentPort && input?.sqliteFile) {
  const port = parentPort;
  // Opening may throw (unwritable folder, corrupt file): that ends the
  // worker with the error, which the store reports to every caller.
  const db = new SqliteDatabase(input.sqliteFile);
  const checkpoints = setInterval(() => {
    try {
      db.checkpoint();
    } catch {
      // Busy or failing: the WAL keeps the data; the next round retries.
    }
  }, CHECKPOINT_INTERVAL_MS);
  port.on("message", (batch: NumberedRequest[]) => {
    if (batch.some((request) => request.op === "close")) clearInterval(checkpoints);
    const replies: StoreReply[] = [];
    const transfer: ArrayBuffer[] = [];
    executeBatch(db, batch).forEach((outcome, i) => {
      const { id, op } = batch[i] as NumberedRequest;
      if ("error" in outcome) {
        replies.push({ id, error: toWireError(outcome.error) });
        return;
      }
      // Loaded updates move to the server's thread instead of being copied.
      if (op === "load") {
        for (const update of outcome.value as Uint8Array[]) {
          transfer.push(update.buffer as ArrayBuffer);
        }
      }
      replies.push({ id, value: outcome.value });
    });
    port.postMessage(replies, transfer);
  });
}
