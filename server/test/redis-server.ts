import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { tempDir } from "./helpers.ts";

/**
 * A real redis-server for tests, on a free port in a temp dir, without
 * persistence. Throws with the server's output if it cannot start: tests of
 * the Redis backend fail rather than skip when Redis is missing.
 */
export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server (SIGTERM) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (a restart without persistence). */
  start(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = tempDir();
  const port = await freePort();
  let child: ChildProcess | null = await spawnRedis(port, dir);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGTERM");
      await exited;
    },
    async start() {
      if (child) throw new Error("redis-server is already running");
      child = await spawnRedis(port, dir);
    },
  };
}

/**
 * In the foreground rather than --daemonize, so the test holds the process:
 * it learns at once when the server is ready or has died.
 */
function spawnRedis(port: number, dir: string): Promise<ChildProcess> {
  const args = ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"];
  const child = spawn("redis-server", [...args, "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const fail = (why: string) => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `redis-server could not start on port ${port} (${why}); is it installed?\n${output}`,
        ),
      );
    };
    const timer = setTimeout(() => fail("not ready after 10 s"), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes("Ready to accept connections")) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      resolve(child);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      fail(`exited with ${signal ?? code}`);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A TCP proxy in front of Redis whose replies the test can hold back: a node
 * connected through it becomes a slow reader on demand.
 */
export interface RedisProxy {
  url: string;
  /** Holds every reply from Redis until `resume`. */
  pause(): void;
  resume(): void;
  /**
   * Silently drops everything either way, on every connection, new ones
   * included: a dead host or a partition, where no reset ever comes.
   */
  freeze(): void;
  /** Drops every connection and refuses new ones until `restore`: Redis unreachable. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startRedisProxy(target: number): Promise<RedisProxy> {
  let paused = false;
  let refusing = false;
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, "127.0.0.1");
    sockets.add(client);
    upstreams.add(upstream);
    if (paused) upstream.pause();
    client.on("data", (chunk) => {
      if (!frozen) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!frozen) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      upstreams.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    pause() {
      paused = true;
      for (const upstream of upstreams) upstream.pause();
    },
    resume() {
      paused = false;
      for (const upstream of upstreams) upstream.resume();
    },
    freeze() {
      frozen = true;
    },
    cut() {
      refusing = true;
      for (const socket of [...sockets, ...upstreams]) socket.destroy();
    },
    restore() {
      refusing = false;
    },
    async close() {
      for (const socket of [...sockets, ...upstreams]) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
