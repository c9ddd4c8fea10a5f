// Compiles server/native/release-memory.cc into a Node addon with the system
// C++ compiler, against the running Node's own headers (the same toolchain
// better-sqlite3 builds with). Optional: without a compiler or headers the
// server runs as before, only slower to give freed memory back (see
// server/src/release-memory.ts).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = path.join(root, "server/native/release-memory.cc");

/**
 * Where node_api.h and V8's headers are: npm's configured nodedir, beside
 * this node binary (/usr/include/node for /usr/bin/node), or node-gyp's
 * download cache.
 */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, "include/node"),
    path.resolve(process.execPath, "../../include/node"),
    path.join(os.homedir(), ".cache/node-gyp", process.versions.node, "include/node"),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(path.join(dir, "node_api.h"))) ?? null;
}

/**
 * Builds the addon at `output`. Returns null on success, or why it could
 * not be built. Linux only: the platform the server is deployed on and
 * the one toolchain this is tested with.
 */
export function buildMemoryAddon(output) {
  if (process.platform !== "linux") return `not on Linux (${process.platform})`;
  const headers = nodeHeaders();
  if (!headers) return "Node's headers (node_api.h) were not found";
  try {
    execFileSync(
      process.env.CXX ?? "c++",
      ["-shared", "-fPIC", "-O2", "-Wall", "-std=c++17", "-I", headers, "-o", output, SOURCE],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return null;
  } catch (error) {
    return `the C++ compiler failed: ${String(error.stderr ?? error.message).trim()}`;
  }
}
