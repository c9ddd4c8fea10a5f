/**
 * Starts the servers under test as child processes, so each one's CPU time and
 * RSS can be read from /proc/<pid> without the load generator's own usage
 * mixed in. Every child is tracked and killed by PID on exit, also on error.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export type ServerKind = "cowrite" | "reference";
export const SERVER_KINDS: readonly ServerKind[] = ["cowrite", "reference"];

const ROOT = path.resolve(import.meta.dirname, "..");
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Clock ticks per second for /proc/<pid>/stat utime and stime. */
export const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Last-resort cleanup: kill every child we started (by PID) and remove temp dirs. */
export function cleanupAll(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on("exit", cleanupAll);

export function makeTempDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `cowrite-bench-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

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

export interface ProcStats {
  /** utime + stime, in microseconds. */
  cpuMicros: number;
  rssBytes: number;
}

export function readProcStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; fields after ")" are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return { cpuMicros: ((utime + stime) * 1e6) / CLK_TCK, rssBytes: rssKb * 1024 };
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
      children.delete(child);
      if (!this.stopping) {
        this.crashed = true;
        process.stderr.write(
          `[bench] ${kind} server exited unexpectedly (code ${code}, signal ${signal})\n${this.log()}\n`,
        );
      }
    });
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 50) this.output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  static async start(kind: ServerKind, dataDir: string): Promise<ServerProcess> {
    const port = await freePort();
    const common = { ...process.env, HOST: "127.0.0.1", PORT: String(port) };
    const [args, env] =
      kind === "cowrite"
        ? [
            // The production build (`npm run build:server`), as operators run it.
            ["server/dist/main.js"],
            {
              ...common,
              DATA_DIR: dataDir,
              LOG_LEVEL: "warn",
              // Raised so the server's own limits do not cap the measurement.
              MAX_MESSAGES_PER_SECOND: "100000",
              MAX_CONNECTIONS_PER_DOCUMENT: "100000",
              MAX_CONNECTIONS: "100000",
            },
          ]
        : [
            ["node_modules/@y/websocket-server/src/server.js"],
            { ...common, YPERSISTENCE: dataDir },
          ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    const server = new ServerProcess(kind, port, dataDir, child);
    await server.waitReady();
    return server;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.kind} server has no pid`);
    return this.child.pid;
  }

  url(room: string): string {
    const prefix = this.kind === "cowrite" ? "/ws/" : "/";
    return `ws://127.0.0.1:${this.port}${prefix}${room}`;
  }

  stats(): ProcStats {
    if (this.crashed) throw new Error(`${this.kind} server crashed`);
    return readProcStats(this.pid);
  }

  log(): string {
    return this.output.join("").slice(-4000);
  }

  /** Polls a TCP connect until the server listens (bounded by READY_TIMEOUT_MS). */
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
