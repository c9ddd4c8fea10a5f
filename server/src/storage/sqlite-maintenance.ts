/**
 * The maintenance connection, seen from the server's thread: a worker
 * thread (sqlite-worker.ts) with its own connection to the same file, which
 * compacts documents and checkpoints the WAL in the background, so neither a
 * merge (which decodes a whole document) nor a checkpoint's copying runs on
 * the event loop.
 *
 * It crosses a thread, so it speaks messages: the requests below, sent in
 * batches (at most one at the worker; requests made meanwhile go together
 * as the next), and one reply message per batch. Errors cross as plain data.
 */
import type { Worker } from "node:worker_threads";
import { startWorkerThread } from "../worker-thread.ts";
import type { CompactResult } from "./doc-store.ts";
import type { Durability } from "./sqlite-db.ts";

export interface WorkerInput {
  sqliteFile: string;
}

/** What each request answers. */
export interface MaintenanceResults {
  compact: CompactResult;
  /** This connection's durability pragmas (for tests). */
  durability: Durability;
  /** Stops checkpointing and closes the connection. */
  close: undefined;
}

export type MaintenanceRequest = { id: number } & (
  | { op: "compact"; docId: string }
  | { op: "durability" }
  | { op: "close" }
);

export type MaintenanceReply = { id: number; value: unknown } | { id: number; error: WireError };

/** An error as it crosses the thread: enough to log it and tell SQLite's codes apart. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const { code } = error as { code?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === "string" ? { code } : {}),
  };
}

function fromWireError(wire: WireError): Error {
  const error = new Error(wire.message) as Error & { code?: string };
  error.name = wire.name;
  if (wire.code !== undefined) error.code = wire.code;
  return error;
}

/**
 * A worker that dies by itself (it could not open the file, it crashed) is
 * replaced after this long, so checkpoints resume without a worker being
 * started over and over while the file cannot be opened.
 */
const restartDelayMs = 1000;

/** A request waiting for its reply. */
interface Pending {
  request: MaintenanceRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class SqliteMaintenance {
  private worker: Worker | null = null;
  /** Requests not yet sent to the worker. */
  private queue: Pending[] = [];
  /** The batch at the worker, by request id; null when none is. */
  private atWorker: Map<number, Pending> | null = null;
  private sendScheduled = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Once started, a worker runs (checkpointing) until close. */
  private started = false;
  private nextId = 1;
  private closing = false;

  constructor(private readonly input: WorkerInput) {}

  /** Starts the worker, which then keeps running until close. */
  start(): void {
    if (this.closing || this.started) return;
    this.started = true;
    this.ensureWorker();
  }

  compact(docId: string): Promise<CompactResult> {
    return this.request({ op: "compact", docId });
  }

  durability(): Promise<Durability> {
    return this.request({ op: "durability" });
  }

  /** Runs what is queued, closes the connection and stops the thread. */
  async close(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const running = this.worker !== null || this.queue.length > 0;
    const closing = running ? this.request({ op: "close" }) : Promise.resolve();
    this.closing = true;
    try {
      await closing;
    } catch (error) {
      // The worker died before closing: its connection is gone already.
      if (this.worker !== null) throw error;
    } finally {
      await this.worker?.terminate();
      this.worker = null;
    }
  }

  private request<K extends keyof MaintenanceResults>(
    request: { op: K } & Omit<Extract<MaintenanceRequest, { op: K }>, "id">,
  ): Promise<MaintenanceResults[K]> {
    return new Promise((resolve, reject) => {
      const numbered = { ...request, id: this.nextId++ } as MaintenanceRequest;
      this.queue.push({ request: numbered, resolve: resolve as (value: unknown) => void, reject });
      if (!this.atWorker && !this.sendScheduled) {
        // Wait for the rest of this turn: requests made in it go together.
        this.sendScheduled = true;
        setImmediate(() => {
          this.sendScheduled = false;
          this.sendBatch();
        });
      }
    });
  }

  private sendBatch(): void {
    if (this.atWorker || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.atWorker = new Map(batch.map((pending) => [pending.request.id, pending]));
    const worker = this.ensureWorker();
    worker.ref(); // keep the process alive until the answer arrives
    worker.postMessage(batch.map((pending) => pending.request));
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const worker = startWorker(this.input);
    worker.on("message", (replies: MaintenanceReply[]) => {
      // A late answer from a worker already given up on must not settle
      // (or clear) the batch now at its successor.
      if (this.worker === worker) this.onReplies(replies);
    });
    worker.on("error", (error) => this.onWorkerGone(worker, error));
    worker.on("exit", (code) =>
      this.onWorkerGone(worker, new Error(`the storage worker exited (code ${code})`)),
    );
    // Idle workers do not keep the process alive; sendBatch refs while busy.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private onReplies(replies: readonly MaintenanceReply[]): void {
    const answered = this.atWorker;
    this.atWorker = null;
    // Send what queued up meanwhile before resolving, so the disk is not
    // idle while callers react to these answers.
    if (this.queue.length > 0) this.sendBatch();
    else this.worker?.unref();
    for (const reply of replies) {
      const pending = answered?.get(reply.id);
      if (!pending) continue;
      if ("error" in reply) pending.reject(fromWireError(reply.error));
      else pending.resolve(reply.value);
    }
  }

  /**
   * The worker died (failed to open the file, crashed): fail the requests it
   * held. Callers retry (rooms compact again later). Requests still queued
   * go to a fresh worker at once; with none, a started worker is replaced
   * after restartDelayMs.
   */
  private onWorkerGone(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const lost = this.atWorker;
    this.atWorker = null;
    for (const pending of lost?.values() ?? []) pending.reject(error);
    if (this.closing) {
      // No successor while closing: fail what is left (the close request
      // included) rather than leave it waiting forever.
      for (const pending of this.queue.splice(0)) pending.reject(error);
      return;
    }
    if (this.queue.length > 0) {
      setImmediate(() => this.sendBatch());
    } else if (this.started) {
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closing) this.ensureWorker();
      }, restartDelayMs);
      this.restartTimer.unref();
    }
  }
}

/** The maintenance worker (sqlite-worker.ts), on its own connection. */
function startWorker(workerData: WorkerInput): Worker {
  // A small young generation: the worker passes large buffers through
  // (whole logs while compacting), and frequent minor collections free them
  // promptly instead of letting the thread's heap balloon.
  const resourceLimits = { maxYoungGenerationSizeMb: 4 };
  return startWorkerThread(import.meta.url, "sqlite-worker", { workerData, resourceLimits });
}
