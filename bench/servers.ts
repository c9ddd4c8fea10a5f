/**
 * Starts the servers under test as child processes, so each one's CPU time and
 * RSS can be read from /proc/<pid> without the load generator's own usage
 * mixed in. Every child is tracked in children.ts and killed by PID on exit.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { sleep } from "./async.ts";
import { spawnChild } from "./children.ts";
import { type ProcStats, readProcStats } from "./proc.ts";

export type ServerKind = "cowrite" | "reference";
export const SERVER_KINDS: readonly ServerKind[] = ["cowrite", "reference"];

const ROOT = path.resolve(import.meta.dirname, "..");
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Asks the kernel for a free port on 127.0.0.1 (closed again before the server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The node arguments of the root package.json's `serve` script (node flags
 * and the entry file), so the bench measures Cowrite as it ships.
 */
function serveArgs(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = (pkg.scripts.serve ?? "").split(/\s+/);
  if (command !== "node" || args.at(-1) !== "server/dist/main.js") {
    throw new Error(`expected the serve script to be "node [flags] server/dist/main.js"`);
  }
  return args;
}

export class ServerProcess {
  crashed = false;
  private stopping = false;
  private output: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly kind: ServerKind,
    readonly port: number,
    readonly dataDir: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", (code, signal) => {
      if (!this.stopping) {
        this.crashed = true;
        process.stderr.write(
          `[bench] ${kind} server exited unexpectedly (code ${code}, signal ${signal})\n${this.log()}\n`,
        );
      }
    });
    const keep = (chunk: Buffer) => {
      // BENCH_SERVER_OUTPUT=1 shows the servers' own output while working on them.
      if (process.env.BENCH_SERVER_OUTPUT) process.stderr.write(chunk);
      this.output.push(chunk.toString());
      if (this.output.length > 50) this.output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  /**
   * `extraEnv` adds to Cowrite's environment: DATABASE_URL and REDIS_URL for
   * the cluster scenario (the reference takes none).
   */
  static async start(
    kind: ServerKind,
    dataDir: string,
    extraEnv: Record<string, string> = {},
  ): Promise<ServerProcess> {
    const port = await freePort();
    const common = { ...process.env, HOST: "127.0.0.1", PORT: String(port) };
    const [args, env] =
      kind === "cowrite"
        ? [
            // The production build, started exactly as `npm run serve` does.
            serveArgs(),
            {
              ...common,
              DATA_DIR: dataDir,
              LOG_LEVEL: "warn",
              // Raised so the server's own limits do not cap the measurement.
              MAX_MESSAGES_PER_SECOND: "100000",
              MAX_CONNECTIONS_PER_DOCUMENT: "100000",
              MAX_CONNECTIONS: "100000",
              MAX_OPEN_DOCUMENTS: "100000",
              // The write path reads cowrite_update_durable_seconds from /metrics.
              METRICS: "true",
              ...extraEnv,
            },
          ]
        : [
            ["node_modules/@y/websocket-server/src/server.js"],
            { ...common, YPERSISTENCE: dataDir },
          ];
    const child = spawnChild(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const server = new ServerProcess(kind, port, dataDir, child);
    await server.waitReady();
    return server;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.kind} server has no pid`);
    return this.child.pid;
  }

  /** WebSocket URL of a document: Cowrite serves them under /ws/, the reference at the root. */
  url(room: string): string {
    const prefix = this.kind === "cowrite" ? "/ws/" : "/";
    return `ws://127.0.0.1:${this.port}${prefix}${room}`;
  }

  stats(): ProcStats {
    if (this.crashed) throw new Error(`${this.kind} server crashed`);
    return readProcStats(this.pid);
  }

  /** Throws if the server died under us: every scenario checks this before reporting. */
  assertAlive(scenario: string): void {
    if (this.crashed) throw new Error(`${this.kind} server crashed during ${scenario}`);
  }

  /**
   * Cowrite's Prometheus text from GET /metrics, or null when the server has
   * no such endpoint (404) or is the reference (which has none).
   */
  async fetchMetrics(): Promise<string | null> {
    if (this.kind !== "cowrite") return null;
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) return null;
      return await response.text();
    } catch {
      return null;
    }
  }

  /**
   * Polls RSS until it stops falling: after clients leave, V8 returns memory
   * to the OS lazily (its memory reducer runs a few seconds after allocation
   * slows), and no event tells us when. Stops early once RSS is within
   * `goodEnoughBytes`; bounded by `maxMs`.
   */
  async settledRss(options: {
    goodEnoughBytes: number;
    stableMs: number;
    maxMs: number;
  }): Promise<number> {
    const started = performance.now();
    const samples: Array<{ at: number; rss: number }> = [];
    for (;;) {
      const now = performance.now();
      const rss = this.stats().rssBytes;
      if (rss <= options.goodEnoughBytes || now - started >= options.maxMs) return rss;
      samples.push({ at: now, rss });
      // Stable = no drop of more than 1% since the sample stableMs ago.
      const reference = samples.find((s) => now - s.at <= options.stableMs);
      if (
        now - started >= options.stableMs &&
        reference &&
        reference.rss - rss < reference.rss * 0.01
      ) {
        return rss;
      }
      await sleep(250);
    }
  }

  /**
   * With BENCH_KEEP_METRICS set, Cowrite's final /metrics (GC pauses, event
   * loop lag, time to durable) is saved to bench/results/metrics/ for
   * looking into a result.
   */
  private async keepMetrics(): Promise<void> {
    const text = await this.fetchMetrics();
    if (text === null) return;
    const dir = path.join(ROOT, "bench/results/metrics");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${this.kind}-${Date.now()}.txt`), text);
  }

  log(): string {
    return this.output.join("").slice(-4000);
  }

  /**
   * Polls a TCP connect until the server listens (bounded). Polling, because
   * neither server announces readiness in a way both share (Cowrite logs at
   * warn level here, so its "listening" line is not printed).
   */
  private async waitReady(): Promise<void> {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (this.crashed) throw new Error(`${this.kind} server exited during start:\n${this.log()}`);
      if (await canConnect(this.port)) return;
      await sleep(50);
    }
    await this.stop();
    throw new Error(`${this.kind} server did not listen within ${READY_TIMEOUT_MS} ms`);
  }

  /** SIGTERM (lets Cowrite flush), then SIGKILL after STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    if (process.env.BENCH_KEEP_METRICS && !this.stopping && !this.crashed) await this.keepMetrics();
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      sleep(STOP_TIMEOUT_MS).then(() => true),
    ]);
    if (timedOut) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
