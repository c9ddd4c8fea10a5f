/**
 * The `cowrite` process: reads the environment once, builds the adapters,
 * starts the server, and shuts down cleanly on SIGINT/SIGTERM.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { ConfigError, databaseFile, readConfig } from "./config.ts";
import { createServer } from "./server.ts";
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
  const logger = pino({ level: config.LOG_LEVEL, base: { service: "cowrite" } });
  const store = new SqliteDocStore(databaseFile(config));
  const clientDir =
    config.CLIENT_DIR ?? path.resolve(fileURLToPath(import.meta.url), "../../../client/dist");
  const server = createServer({
    store,
    logger,
    clientDir,
    heartbeatMs: config.HEARTBEAT_MS,
    compactEvery: config.COMPACT_EVERY,
    shutdownGraceMs: config.SHUTDOWN_GRACE_MS,
    limits: {
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      maxQueuedFrames: config.MAX_QUEUED_MESSAGES,
      maxBufferedBytes: config.MAX_BUFFERED_BYTES,
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
    { port: address.port, host: address.address, database: store.file },
    `Cowrite is listening on http://${shownHost}:${address.port}`,
  );
}

main().catch((error: unknown) => {
  console.error("cowrite: failed to start:", error);
  process.exit(1);
});
