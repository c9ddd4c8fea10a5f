/**
 * Everything the harness must undo on exit: child processes (servers under
 * test, load-generator workers) and temp directories. Children are killed by
 * PID, never by name: other benchmarks may be running on the same machine.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
/** Synchronous undo steps for what is not a tracked child (daemons such as PostgreSQL). */
const cleanups = new Set<() => void>();

/** Open-file limits of this process: soft (current) and hard (ceiling). */
function readFdLimits(): { soft: number; hard: number } {
  try {
    const out = execFileSync("bash", ["-c", "ulimit -Sn; ulimit -Hn"], { encoding: "utf8" });
    const [soft, hard] = out
      .trim()
      .split("\n")
      .map((line) => (line === "unlimited" ? Number.POSITIVE_INFINITY : Number(line)));
    if (soft !== undefined && hard !== undefined) return { soft, hard };
  } catch {
    // fall through: assume Linux's usual default
  }
  return { soft: 1024, hard: 1024 };
}

const FD_LIMITS = readFdLimits();

/**
 * Open files a child may hold: the hard limit, since spawnChild raises the
 * soft limit to it. Each WebSocket is one file descriptor on each side.
 */
export const CHILD_FD_LIMIT = FD_LIMITS.hard;

/**
 * Spawns a tracked child. If the soft open-file limit is below the hard one,
 * the child is started through bash so it can raise its own soft limit first
 * (`exec` keeps the PID, so tracking and kill-by-PID still work).
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions) {
  const [file, argv] =
    FD_LIMITS.soft < FD_LIMITS.hard
      ? ["bash", ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$@"', "bench-child", command, ...args]]
      : [command, [...args]];
  const child = spawn(file, argv, options);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Sends SIGKILL to a child we started, if it is still running. */
export function killChild(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export function makeTempDir(label: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `cowrite-bench-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Registers a synchronous last-resort step (kill a daemon by PID, remove
 * its folder); returns the function that unregisters it once it was
 * stopped the orderly way.
 */
export function onCleanup(step: () => void): () => void {
  cleanups.add(step);
  return () => cleanups.delete(step);
}

/** Last-resort cleanup: kill every child we started and remove temp dirs. */
export function cleanupAll(): void {
  for (const step of cleanups) {
    try {
      step();
    } catch {
      // best effort: the others must still run
    }
  }
  cleanups.clear();
  for (const child of children) killChild(child);
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on("exit", cleanupAll);
