/**
 * createServer(deps): one HTTP server on one port. express serves the API,
 * health checks and the built client; `ws` takes WebSocket upgrades on
 * /ws/<docId>. Everything it needs is passed in; it reads no environment.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Duplex } from "node:stream";
import { CLOSE_BAD_FRAME, CLOSE_GOING_AWAY, isValidDocId } from "@cowrite/shared";
import express from "express";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import { Connection } from "./connection.ts";
import { createApiRouter, HttpError, jsonErrorHandler } from "./http-api.ts";
import { Room } from "./room.ts";
import { RoomRegistry } from "./rooms.ts";
import type { DocStore } from "./storage/doc-store.ts";

export interface ServerLimits {
  /** Largest WebSocket message accepted; larger ones close with 1009. */
  maxMessageBytes: number;
  /** Frames a connection may have waiting to be handled. */
  maxQueuedFrames: number;
  /** Unsent bytes to one client before it counts as not reading. */
  maxBufferedBytes: number;
}

export interface ServerOptions {
  store: DocStore;
  logger: Logger;
  now?: () => number;
  /** Folder with the built client (index.html and assets); none to serve no UI. */
  clientDir?: string | undefined;
  /** Interval of WebSocket pings; a client that misses one is dropped. 0 turns them off. */
  heartbeatMs?: number;
  /** Merge a document's stored log after this many updates. */
  compactEvery?: number;
  limits?: Partial<ServerLimits>;
  /** How long shutdown waits for clients to finish the close handshake. */
  shutdownGraceMs?: number;
}

export interface CowriteServer {
  readonly httpServer: http.Server;
  readonly rooms: RoomRegistry;
  /** Open WebSocket connections. */
  readonly connectionCount: number;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes clients with 1001, waits for every save. */
  close(): Promise<void>;
}

const DEFAULT_LIMITS: ServerLimits = {
  maxMessageBytes: 32 * 1024 * 1024,
  maxQueuedFrames: 1000,
  maxBufferedBytes: 64 * 1024 * 1024,
};

export function createServer(options: ServerOptions): CowriteServer {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const connections = new Set<Connection>();
  let nextConnectionId = 1;
  let closing: Promise<void> | null = null;

  const rooms = new RoomRegistry({
    open: (docId) =>
      Room.load({
        docId,
        store,
        now,
        logger: logger.child({ docId }),
        compactEvery: options.compactEvery ?? 500,
      }),
    onCloseError: (docId, error) => logger.error({ err: error, docId }, "closing a room failed"),
  });

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const failing = rooms.openRooms().filter((room) => room.lastSaveError);
    try {
      await store.ping();
    } catch (error) {
      res.status(503).json({ status: "unavailable", storage: (error as Error).message });
      return;
    }
    if (closing) {
      res.status(503).json({ status: "shutting down" });
      return;
    }
    if (failing.length > 0) {
      res.status(503).json({ status: "saves failing", documents: failing.map((r) => r.docId) });
      return;
    }
    res.json({ status: "ready" });
  });
  app.use("/api", createApiRouter({ store, rooms, logger, now }));
  app.get("/ws/{*rest}", () => {
    throw new HttpError(426, "upgrade_required", "this endpoint speaks WebSocket");
  });
  if (options.clientDir) mountClient(app, options.clientDir);
  app.use((req) => {
    throw new HttpError(404, "not_found", `no route ${req.method} ${req.path}`);
  });
  app.use(jsonErrorHandler(logger));

  const httpServer = http.createServer(app);
  httpServer.on("clientError", (error, socket) => {
    logger.debug({ err: error }, "bad HTTP request");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  httpServer.on("upgrade", (req, socket, head) => {
    socket.on("error", (error) => logger.debug({ err: error }, "upgrade socket error"));
    if (closing) return rejectUpgrade(socket, 503, "Service Unavailable");
    const url = new URL(req.url ?? "/", "http://localhost");
    const match = /^\/ws\/([^/]*)$/.exec(url.pathname);
    if (!match) return rejectUpgrade(socket, 404, "Not Found");
    const docId = safeDecode(match[1] ?? "");
    wss.handleUpgrade(req, socket, head, (ws) => {
      // Rejections after the upgrade so that a browser can see the close code.
      if (docId === null || !isValidDocId(docId)) {
        ws.close(CLOSE_BAD_FRAME, "invalid document id");
        return;
      }
      const connection = new Connection({
        ws,
        id: String(nextConnectionId++),
        docId,
        readOnly: false,
        rooms,
        logger,
        maxQueuedFrames: limits.maxQueuedFrames,
        maxBufferedBytes: limits.maxBufferedBytes,
      });
      connections.add(connection);
      void connection.finished.then(() => connections.delete(connection));
    });
  });

  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const connection of connections) connection.heartbeat();
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  async function shutdown(): Promise<void> {
    if (heartbeat) clearInterval(heartbeat);
    const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    const finishing = [...connections].map((connection) => connection.finished);
    for (const connection of connections)
      connection.close(CLOSE_GOING_AWAY, "server shutting down");
    // Clients get a moment to answer the close frame; the rest are cut off.
    const grace = setTimeout(() => {
      for (const client of wss.clients) client.terminate();
      httpServer.closeAllConnections();
    }, options.shutdownGraceMs ?? 3000);
    await Promise.all(finishing);
    await rooms.drain();
    clearTimeout(grace);
    httpServer.closeAllConnections();
    await stopped;
    wss.close();
  }

  return {
    httpServer,
    rooms,
    get connectionCount() {
      return connections.size;
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(port, host, () => {
          httpServer.off("error", reject);
          resolve(httpServer.address() as AddressInfo);
        });
      });
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}

function mountClient(app: express.Express, clientDir: string): void {
  const indexFile = path.join(clientDir, "index.html");
  app.use(
    express.static(clientDir, {
      index: false,
      setHeaders(res, file) {
        // Vite puts a content hash in asset names, so they never change.
        if (file.includes(`${path.sep}assets${path.sep}`)) {
          res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
        }
      },
    }),
  );
  const sendIndex = (_req: express.Request, res: express.Response) => {
    if (!fs.existsSync(indexFile)) {
      throw new HttpError(
        503,
        "client_not_built",
        "the web client is not built; run npm run build",
      );
    }
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(indexFile);
  };
  app.get("/", sendIndex);
  app.get("/d/:docId", sendIndex);
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
