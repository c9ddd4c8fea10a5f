import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { tempDir } from "./helpers.ts";

/**
 * A private PostgreSQL server for one test file: its own data folder in a
 * temp dir, its own free port, trust authentication on 127.0.0.1 only.
 * Started with initdb + pg_ctl (there is no Docker here, and no systemd).
 *
 * It never skips: if PostgreSQL cannot be started, `startPostgres` throws
 * with the reason, so a machine without it fails the tests instead of
 * silently passing them.
 */
export interface PostgresServer {
  port: number;
  /** Creates an empty database and returns its connection string. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
  /** Stops the server, keeping its data: clients see it go away. */
  pause(): Promise<void>;
  /** Starts a paused server again, on the same port with the same data. */
  resume(): Promise<void>;
}

/** Where the binaries are: $PG_BIN, else the newest /usr/lib/postgresql/N/bin. */
function findBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((name) => fs.existsSync(path.join(root, name, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(
      `PostgreSQL is needed for these tests but no initdb was found under ${root} ` +
        "(apt-get install postgresql, or set PG_BIN to the folder holding initdb and pg_ctl)",
    );
  }
  return path.join(root, newest, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findBinDir();
  const dir = tempDir();
  const data = path.join(dir, "data");
  const log = path.join(dir, "pg.log");
  // initdb refuses to run as root: as root, hand the folder to the
  // `postgres` user and run the tools as that user.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    fs.chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const [command, fullArgs] = asRoot
      ? ["runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args]]
      : [path.join(bin, tool), args];
    try {
      execFileSync(command, fullArgs, { stdio: "pipe", encoding: "utf8" });
    } catch (error) {
      const { message, stderr, stdout } = error as Error & { stderr?: string; stdout?: string };
      const logText = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
      throw new Error(
        `the test PostgreSQL server: ${tool} failed (${message})\n${stderr ?? ""}${stdout ?? ""}${logText}`,
      );
    }
  };

  const port = await freePort();
  const startServer = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      log,
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`,
      "-w",
      "start",
    ]);
  const connectAdmin = async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "postgres",
      database: "postgres",
    });
    await client.connect().catch((error: unknown) => {
      run("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
      throw new Error(`the test PostgreSQL server started but refused a connection: ${error}`);
    });
    return client;
  };
  let admin: pg.Client | null;
  try {
    run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    startServer();
    admin = await connectAdmin();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  let stopped = false;
  return {
    port,
    async createDatabase() {
      if (!admin) throw new Error("the test PostgreSQL server is paused");
      const name = `test_${++databases}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return `postgresql://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await admin?.end();
      admin = null;
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async pause() {
      await admin?.end();
      admin = null;
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    async resume() {
      startServer();
      admin = await connectAdmin();
    },
  };
}
