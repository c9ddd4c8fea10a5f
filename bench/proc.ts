/**
 * Readings from /proc and the filesystem: a process's CPU time and RSS, the
 * whole machine's CPU use (to tell a saturated machine from a slow server),
 * and the bytes a server stored.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

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

/** Cumulative ticks of all CPUs: busy and total (from the "cpu" line of /proc/stat). */
export interface MachineCpu {
  busy: number;
  /** Time the hypervisor gave our virtual CPUs to someone else. */
  steal: number;
  total: number;
}

export function readMachineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...; idle + iowait are not busy.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: total - idle, steal: ticks[7] ?? 0, total };
}

/** Share of all cores stolen by the hypervisor between two readings, in %. */
export function machineStealPercent(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.steal - before.steal) / total) * 100 : Number.NaN;
}

/** Share of all cores busy between two readings, in %. Everything counts, other users too. */
export function machineBusyPercent(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.busy - before.busy) / total) * 100 : Number.NaN;
}

/** Apparent size of every file under `dir`, in bytes (what the server stored). */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}
