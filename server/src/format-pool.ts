/**
 * Document conversions (export and import) off the event loop: one worker
 * thread (format-worker.ts), started on first use, takes the requests in
 * turn. A conversion that takes longer than `timeoutMs` ends the worker
 * (a stuck conversion cannot be interrupted any other way) and fails with
 * ConversionTimeoutError, as do the requests queued behind it; the next
 * request starts a fresh worker. A worker that dies fails what it held the
 * same way.
 */
import type { Worker } from "node:worker_threads";
import type { ExportFormat, ImportContent } from "@cowrite/shared";
import type { ExportedFile, ImportedContent } from "./document-format.ts";
import type { FormatCall, FormatResponse } from "./format-worker.ts";
import { startWorkerThread } from "./worker-thread.ts";

export interface FormatPool {
  exportDocument(state: Uint8Array, format: ExportFormat): Promise<ExportedFile>;
  importContent(content: ImportContent): Promise<ImportedContent>;
  /** Ends the worker; later requests fail. */
  close(): Promise<void>;
}

export class ConversionTimeoutError extends Error {
  override name = "ConversionTimeoutError";
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

export function createFormatPool(options: { timeoutMs: number }): FormatPool {
  let worker: Worker | null = null;
  let nextId = 1;
  let closed = false;
  const pending = new Map<number, Pending>();
  /** Requests in the order sent; the first is the one the worker is converting. */
  const order: { id: number; sentAt: number }[] = [];
  let watchdog: NodeJS.Timeout | null = null;

  const failAll = (error: Error): void => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
    order.length = 0;
    if (watchdog) clearTimeout(watchdog);
    watchdog = null;
  };

  /** Watches the request being converted now. */
  const watch = (): void => {
    if (watchdog) clearTimeout(watchdog);
    watchdog = null;
    const current = order[0];
    if (!current) return;
    const left = current.sentAt + options.timeoutMs - performance.now();
    watchdog = setTimeout(
      () => {
        const stuck = worker;
        worker = null;
        failAll(new ConversionTimeoutError(`converting took longer than ${options.timeoutMs} ms`));
        void stuck?.terminate();
      },
      Math.max(0, left),
    );
    watchdog.unref();
  };

  const ensureWorker = (): Worker => {
    if (worker) return worker;
    const started = startWorkerThread(import.meta.url, "format-worker");
    started.on("message", (response: FormatResponse) => {
      const waiting = pending.get(response.id);
      pending.delete(response.id);
      const at = order.findIndex((entry) => entry.id === response.id);
      if (at >= 0) order.splice(at, 1);
      // The next one starts now: its time counts from here.
      if (order[0]) order[0].sentAt = performance.now();
      watch();
      if (!waiting) return;
      if (response.ok) waiting.resolve(response.result);
      else waiting.reject(new Error(response.message));
    });
    const lost = (error: Error) => {
      if (worker !== started) return;
      worker = null;
      failAll(error);
    };
    started.on("error", lost);
    started.on("exit", (code) => lost(new Error(`the conversion worker exited (code ${code})`)));
    started.unref();
    worker = started;
    return started;
  };

  const request = <T>(message: FormatCall) => {
    if (closed) return Promise.reject(new Error("the conversion worker is closed"));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      order.push({ id, sentAt: performance.now() });
      ensureWorker().postMessage({ ...message, id });
      if (order.length === 1) watch();
    });
  };

  return {
    exportDocument: (state, format) => request<ExportedFile>({ op: "export", state, format }),
    importContent: (content) => request<ImportedContent>({ op: "import", content }),
    async close() {
      closed = true;
      const stopping = worker;
      worker = null;
      failAll(new Error("the conversion worker is closed"));
      await stopping?.terminate();
    },
  };
}
