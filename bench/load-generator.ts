/**
 * The load generator: a few worker processes (worker/main.ts) that hold the
 * WebSocket clients, driven over IPC. Documents are sharded so that all
 * clients of one document live in one worker; latency is then measured on
 * one process's clock. Workers are separate from the orchestrator and from
 * the servers, so their CPU never counts as the server's.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { withTimeout } from "./async.ts";
import { killChild, spawnChild } from "./children.ts";
import type { TaskArgs, TaskName, TaskRequest, TaskResponse, TaskResult } from "./messages.ts";

const WORKER_ENTRY = path.resolve(import.meta.dirname, "worker/main.ts");
const START_TIMEOUT_MS = 20_000;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

class Worker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exitError: Error | null = null;

  constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.on("message", (message: TaskResponse) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`worker ${index}: ${message.error}`));
    });
    child.once("exit", (code, signal) => {
      this.exitError = new Error(`load-generator worker ${index} exited (${code ?? signal})`);
      for (const waiter of this.pending.values()) waiter.reject(this.exitError);
      this.pending.clear();
    });
  }

  call<T extends TaskName>(task: T, args: TaskArgs<T>, timeoutMs: number): Promise<TaskResult<T>> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    const result = new Promise<TaskResult<T>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
    });
    const request: TaskRequest = { id, task, args };
    this.child.send(request);
    return withTimeout(result, timeoutMs, `worker ${this.index} task ${task}`).finally(() =>
      this.pending.delete(id),
    );
  }

  /** Waits for the worker's "ready" message, sent once its modules are loaded. */
  ready(): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve, reject) => {
        this.child.once("message", () => resolve());
        this.child.once("exit", () => reject(new Error(`worker ${this.index} exited at start`)));
      }),
      START_TIMEOUT_MS,
      `worker ${this.index} start`,
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    killChild(this.child);
  }
}

export class LoadGenerator {
  private constructor(private readonly workers: Worker[]) {}

  static async start(count: number): Promise<LoadGenerator> {
    const workers = Array.from({ length: count }, (_, index) => {
      const child = spawnChild(process.execPath, ["--import", "tsx", WORKER_ENTRY], {
        cwd: path.resolve(import.meta.dirname, ".."),
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // Structured clone, so typed arrays of latencies cross without JSON.
        serialization: "advanced",
      });
      return new Worker(index, child);
    });
    const generator = new LoadGenerator(workers);
    try {
      await Promise.all(workers.map((worker) => worker.ready()));
    } catch (error) {
      generator.stop();
      throw error;
    }
    return generator;
  }

  get size(): number {
    return this.workers.length;
  }

  get pids(): number[] {
    return this.workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  /** Worker that holds document number `doc`: round-robin sharding. */
  workerOf(doc: number): number {
    return doc % this.workers.length;
  }

  call<T extends TaskName>(
    worker: number,
    task: T,
    args: TaskArgs<T>,
    timeoutMs: number,
  ): Promise<TaskResult<T>> {
    const target = this.workers[worker];
    if (!target) throw new Error(`no worker ${worker}`);
    return target.call(task, args, timeoutMs);
  }

  /**
   * Runs a task on every worker that gets arguments (argsFor returns null to
   * skip one) and waits for all. Requests go out in the same tick, so the
   * workers start together.
   */
  async all<T extends TaskName>(
    task: T,
    argsFor: (worker: number) => TaskArgs<T> | null,
    timeoutMs: number,
  ): Promise<TaskResult<T>[]> {
    const calls: Promise<TaskResult<T>>[] = [];
    for (const worker of this.workers) {
      const args = argsFor(worker.index);
      if (args !== null) calls.push(worker.call(task, args, timeoutMs));
    }
    return Promise.all(calls);
  }

  /**
   * Closes a group's clients in every worker; returns how many were still
   * open. Used in `finally` blocks, so a failure is logged rather than
   * thrown over the error that got us there (a dead worker fails the next
   * task anyway).
   */
  async closeGroup(group: string, timeoutMs = 60_000): Promise<number> {
    try {
      const results = await this.all("close-group", () => ({ group }), timeoutMs);
      return results.reduce((total, r) => total + r.closed, 0);
    } catch (error) {
      process.stderr.write(`[bench] closing ${group}: ${(error as Error).message}\n`);
      return 0;
    }
  }

  stop(): void {
    for (const worker of this.workers) worker.kill();
  }
}
