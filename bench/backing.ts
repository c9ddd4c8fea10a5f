/**
 * The private PostgreSQL and Redis a cluster run needs, started with the
 * test suite's helpers (server/test/postgres-server.ts, redis-server.ts: a
 * temp folder, a free port on 127.0.0.1, no persistence for Redis) and
 * stopped afterwards. Both are daemons the helpers own, not children
 * tracked in children.ts, so this module finds their PIDs in /proc: to
 * charge their CPU to the measurement, and to kill them by PID if the run
 * is interrupted.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import path from "node:path";
import type { PostgresServer } from "../server/test/postgres-server.ts";
import type { RedisServer } from "../server/test/redis-server.ts";
import { onCleanup } from "./children.ts";
import { CLK_TCK } from "./proc.ts";

export interface BackingServices {
  /** A fresh, empty PostgreSQL database. */
  createDatabase(): Promise<string>;
  /** Redis URL of logical database `db` (0-15), so unrelated nodes need not share streams. */
  redisUrl(db: number): string;
  /** CPU used so far (user + system, µs), including exited PostgreSQL backends. */
  cpuMicros(): { postgres: number; redis: number };
  stop(): Promise<void>;
}

export async function startBackingServices(): Promise<BackingServices> {
  // Loaded only when a cluster run needs them: they pull in the server's modules.
  const { startPostgres } = await import("../server/test/postgres-server.ts");
  const { startRedisServer } = await import("../server/test/redis-server.ts");
  const postgres: PostgresServer = await startPostgres();
  let redis: RedisServer;
  try {
    redis = await startRedisServer();
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  const postmaster = findProcess(
    (argv) => path.basename(argv[0] ?? "") === "postgres" && hasPort(argv, postgres.port),
  );
  const redisPid = findProcess(
    (argv) =>
      (argv[0] ?? "").startsWith("redis-server") && argv.join(" ").includes(`:${redis.port}`),
  );
  // Read now: both folders are gone once the servers stop.
  const postgresDir = postmaster === null ? null : postgresFolder(postmaster);
  const redisDir = redisPid === null ? null : readlinkSync(`/proc/${redisPid}/cwd`);
  const forget = onCleanup(() => {
    // Interrupted: no time for pg_ctl; SIGQUIT is PostgreSQL's immediate shutdown.
    if (postmaster !== null) kill(postmaster, "SIGQUIT");
    if (redisPid !== null) kill(redisPid, "SIGKILL");
    for (const dir of [postgresDir, redisDir]) {
      if (dir !== null) rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    createDatabase: () => postgres.createDatabase(),
    redisUrl: (db) => `${redis.url}/${db}`,
    cpuMicros: () => ({
      postgres: postmaster === null ? Number.NaN : treeCpuMicros(postmaster),
      redis: redisPid === null ? Number.NaN : processCpuMicros(redisPid, false),
    }),
    async stop() {
      try {
        await redis.stop();
        await postgres.stop();
      } finally {
        forget();
        // The Redis helper leaves its (empty) folder; PostgreSQL's removes its own.
        if (redisDir !== null) rmSync(redisDir, { recursive: true, force: true });
      }
    },
  };
}

function hasPort(argv: string[], port: number): boolean {
  const at = argv.indexOf("-p");
  return at >= 0 && argv[at + 1] === String(port);
}

/** The temp folder holding `-D <folder>/data` on the postmaster's command line. */
function postgresFolder(pid: number): string | null {
  const argv = readArgv(pid) ?? [];
  const data = argv[argv.indexOf("-D") + 1];
  return data === undefined || argv.indexOf("-D") < 0 ? null : path.dirname(data);
}

function readArgv(pid: number | string): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return null; // exited meanwhile, or not ours to read
  }
}

function findProcess(matches: (argv: string[]) => boolean): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = readArgv(entry);
    if (argv && matches(argv)) return Number(entry);
  }
  return null;
}

/** Fields after the command name of /proc/<pid>/stat (utime is [11]). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** utime + stime, plus the reaped children's cutime + cstime when asked. */
function processCpuMicros(pid: number, withReaped: boolean): number {
  const f = statFields(pid);
  if (!f) return 0;
  const ticks = Number(f[11]) + Number(f[12]) + (withReaped ? Number(f[13]) + Number(f[14]) : 0);
  return (ticks * 1e6) / CLK_TCK;
}

/**
 * The postmaster, every live backend and background process under it, and
 * (through the postmaster's cutime) every backend that already exited.
 */
function treeCpuMicros(postmaster: number): number {
  let total = processCpuMicros(postmaster, true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === postmaster) total += processCpuMicros(Number(entry), false);
  }
  return total;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
