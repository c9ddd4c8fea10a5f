/**
 * The maintenance worker thread: its own SQLite connection to the same file,
 * compacting documents when asked (a merge decodes a whole document and can
 * take long for big ones) and checkpointing the WAL every
 * checkpointIntervalMs, so neither ever stalls an append on the server's
 * thread. Each message is a batch of requests (sqlite-maintenance.ts);
 * replies come back in one message per batch.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SqliteDatabase } from "./sqlite-db.ts";
import {
  type MaintenanceReply,
  type MaintenanceRequest,
  type MaintenanceResults,
  toWireError,
  type WorkerInput,
} from "./sqlite-maintenance.ts";

const checkpointIntervalMs = 500;

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
  }, checkpointIntervalMs);

  const run = (request: MaintenanceRequest): MaintenanceResults[typeof request.op] => {
    switch (request.op) {
      case "compact":
        return db.compact(request.docId);
      case "durability":
        return db.durability();
      case "close":
        clearInterval(checkpoints);
        db.close();
        return undefined;
    }
  };

  port.on("message", (batch: MaintenanceRequest[]) => {
    const replies: MaintenanceReply[] = batch.map((request) => {
      try {
        return { id: request.id, value: run(request) };
      } catch (error) {
        return { id: request.id, error: toWireError(error) };
      }
    });
    port.postMessage(replies);
  });
}
