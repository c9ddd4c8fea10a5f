/**
 * The `cowrite` process: reads the environment once, builds the adapters,
 * starts the server, and shuts down cleanly on SIGINT/SIGTERM.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Authorize, createTokenAuth, openAccess } from "./auth.ts";
import {
  type Config,
  ConfigError,
  databaseFile,
  describeDatabase,
  describeRedis,
  readConfig,
} from "./config.ts";
import { createLogger } from "./logger.ts";
import { reclaimMemory } from "./memory-reclaim.ts";
import type { PubSub } from "./pubsub/pubsub.ts";
import { RedisPubSub } from "./pubsub/redis.ts";
import { loadMemoryAddon } from "./release-memory.ts";
import { createServer } from "./server.ts";
import type { DocStore } from "./storage/doc-store.ts";
import { PostgresDocStore } from "./storage/postgres.ts";
import { SqliteDocStore } from "./storage/sqlite.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`cowrite: ${error.message}`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.LOG_LEVEL });
  const authorize = await buildAuth(config);
  if (authorize === openAccess) {
    logger.warn(
      "auth is OFF: anyone who can reach this server can read and edit every document. " +
        "Set AUTH_SECRET (or AUTH_PUBLIC_KEY) before exposing it.",
    );
  }
  const store: DocStore = config.DATABASE_URL
    ? new PostgresDocStore(config.DATABASE_URL)
    : new SqliteDocStore(databaseFile(config));
  const database = describeDatabase(config);
  try {
    // Opens the database now (for PostgreSQL: connects and creates the
    // schema), so a bad DATA_DIR or DATABASE_URL stops the start, not the
    // first edit.
    await store.ping();
  } catch (error) {
    console.error(`cowrite: cannot open ${database}: ${(error as Error).message}`);
    await store.close().catch(() => {});
    process.exit(2);
  }
  let pubsub: PubSub | undefined;
  if (config.REDIS_URL) {
    const redis = describeRedis(config.REDIS_URL);
    try {
      // Connection errors after the start are followed by reconnects; the
      // log says when, at most once a second per kind.
      pubsub = await RedisPubSub.connect({
        url: config.REDIS_URL,
        onError: rateLimited((error) =>
          logger.warn({ err: error, redis }, "Redis connection error; reconnecting"),
        ),
      });
    } catch (error) {
      console.error(`cowrite: cannot reach Redis at ${redis}: ${(error as Error).message}`);
      await store.close().catch(() => {});
      process.exit(2);
    }
    logger.info({ redis, node: pubsub.nodeId }, "cluster mode: relaying through Redis");
  }
  const memoryAddon = loadMemoryAddon();
  if (!memoryAddon && import.meta.url.endsWith(".js")) {
    logger.info(
      "release-memory.node is not next to the server bundle (npm run build:server could not " +
        "compile it): after many connections close, freed heap memory goes back to the system " +
        "later, and freed native memory stays with the process",
    );
  }
  const clientDir =
    config.CLIENT_DIR ?? path.resolve(fileURLToPath(import.meta.url), "../../../client/dist");
  const server = createServer({
    store,
    logger,
    clientDir,
    heartbeatMs: config.HEARTBEAT_MS,
    compactEvery: config.COMPACT_EVERY,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    metrics: config.METRICS,
    gc: reclaimMemory(globalThis.gc, memoryAddon),
    pubsub,
    ...(config.ADVERTISE_URL ? { cluster: { advertiseUrl: config.ADVERTISE_URL } } : {}),
    authorize,
    allowedOrigins: config.ALLOWED_ORIGINS,
    allowedHosts: config.ALLOWED_HOSTS,
    tls:
      config.TLS_CERT && config.TLS_KEY
        ? { cert: fs.readFileSync(config.TLS_CERT), key: fs.readFileSync(config.TLS_KEY) }
        : undefined,
    limits: {
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      maxQueuedFrames: config.MAX_QUEUED_MESSAGES,
      maxQueuedBytes: config.MAX_QUEUED_BYTES,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
      maxMessagesPerSecond: config.MAX_MESSAGES_PER_SECOND,
      maxAwarenessBytes: config.MAX_AWARENESS_BYTES,
      maxConnectionsPerDocument: config.MAX_CONNECTIONS_PER_DOCUMENT,
      maxConnections: config.MAX_CONNECTIONS,
      maxOpenDocuments: config.MAX_OPEN_DOCUMENTS,
      maxDocumentsPerSocket: config.MAX_DOCUMENTS_PER_SOCKET,
    },
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without waiting");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down: closing clients and finishing writes");
    try {
      await server.close();
      await pubsub?.close();
      await store.close();
      logger.info("stopped");
      process.exit(0);
    } catch (error) {
      logger.fatal({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));

  const address = await server.listen(config.PORT, config.HOST);
  const shownHost = address.address.includes(":") ? `[${address.address}]` : address.address;
  logger.info(
    { port: address.port, host: address.address, database },
    `Cowrite is listening on ${config.TLS_CERT ? "https" : "http"}://${shownHost}:${address.port}`,
  );
}

/** Calls `log` at most once a second; the calls in between are dropped. */
function rateLimited(log: (error: Error) => void): (error: Error) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    log(error);
  };
}

async function buildAuth(config: Config): Promise<Authorize> {
  if (config.AUTH_PUBLIC_KEY) {
    // The variable holds the PEM itself or a path to it.
    const pem = config.AUTH_PUBLIC_KEY.includes("-----BEGIN")
      ? config.AUTH_PUBLIC_KEY
      : fs.readFileSync(config.AUTH_PUBLIC_KEY, "utf8");
    return createTokenAuth({
      publicKey: { pem, algorithm: config.AUTH_ALGORITHM },
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
  }
  if (config.AUTH_SECRET) {
    return createTokenAuth({
      secret: config.AUTH_SECRET,
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
  }
  return openAccess;
}

main().catch((error: unknown) => {
  console.error("cowrite: failed to start:", error);
  process.exit(1);
});
