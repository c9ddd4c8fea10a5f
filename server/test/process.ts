import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../../..");

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  wsUrl: string;
  url: string;
  /** Resident set size of the server process, from /proc. */
  rssBytes(): number;
  /** Resolves with the exit code or signal once the process has ended. */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Starts `server/src/main.ts` as a real child process on a free port. */
export function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    cwd: repoRoot,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.on("exit", (code, signal) => resolve(signal ?? code));
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"port":(\d+).*Cowrite is listening/.exec(output);
      if (!match) return;
      child.stdout?.off("data", onData);
      child.stdout?.resume();
      const port = Number(match[1]);
      resolve({
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}/ws`,
        rssBytes() {
          const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
          const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
          return Number(kb) * 1024;
        },
        exited,
      });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((how) =>
      reject(new Error(`server exited (${how}) before listening:\n${output}`)),
    );
  });
}
