/**
 * createServer(deps): one HTTP server on one port, wired from the modules
 * that do the work. express serves the API, health checks, metrics and the
 * built client; `ws` takes WebSocket upgrades on /ws/<docId>, and
 * admission.ts decides which become Connections. The heartbeat and shutdown
 * live here. Everything it needs is passed in; it reads no environment.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  CLOSE_GOING_AWAY,
  HTTP_CLOSE_CODE_HEADER,
  HTTP_CLOSE_REASON_HEADER,
  HTTP_NEXT_POSITION_HEADER,
  HTTP_SHARED_SEGMENT,
  HTTP_TRANSPORT_PATH,
  MUX_SUBPROTOCOL,
  WS_SUBPROTOCOL,
} from "@cowrite/shared";
import express from "express";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import {
  type AdmissionOptions,
  admit,
  isOriginAllowed,
  screenUpgrade,
  type Verdict,
} from "./admission.ts";
import { type Authorize, openAccess } from "./auth.ts";
import { Cluster, type ClusterOptions } from "./cluster/cluster.ts";
import { Connection, type ConnectionShared, type PeerSocket } from "./connection.ts";
import { ConnectionSet } from "./connection-set.ts";
import { createFormatPool } from "./format-pool.ts";
import { checkReadiness, countLoad } from "./health.ts";
import { type HostPattern, isHostAllowed } from "./host-allowlist.ts";
import { createApiRouter, ensureTitledDocument, HttpError, jsonErrorHandler } from "./http-api.ts";
import { FORWARDED_HEADER, forwardToNode } from "./http-forward.ts";
import { HttpSession, HttpSessions, nodeOfSession } from "./http-session.ts";
import { MemoryReclaimer } from "./memory-reclaim.ts";
import { createMetrics, noMetrics } from "./metrics.ts";
import { MuxSocket } from "./mux-socket.ts";
import type { PubSub } from "./pubsub/pubsub.ts";
import { Room, type RoomRelay } from "./room.ts";
import type { VersionPolicy } from "./room-versions.ts";
import { RoomRegistry } from "./rooms.ts";
import { mountClient } from "./static-client.ts";

/** What a page of another origin must be able to read from a poll's answer. */
const HTTP_RESPONSE_HEADERS = [
  HTTP_NEXT_POSITION_HEADER,
  HTTP_CLOSE_CODE_HEADER,
  HTTP_CLOSE_REASON_HEADER,
];

/** The one document /embed-demo opens when the link names none. */
const DEMO_DOCUMENT_ID = "embedding-demo";

import type { DocStore } from "./storage/doc-store.ts";

export interface ServerLimits {
  /** Largest WebSocket message accepted; larger ones close with 1009. */
  maxMessageBytes: number;
  /** Frames a connection may have waiting to be handled. */
  maxQueuedFrames: number;
  /** Total bytes of those frames. */
  maxQueuedBytes: number;
  /** Unsent bytes to one client before it counts as not reading. */
  maxBufferedBytes: number;
  /** Messages per second one connection may send (averaged over a 2 s burst). */
  maxMessagesPerSecond: number;
  /** Largest awareness state one client may publish, in JSON characters. */
  maxAwarenessBytes: number;
  /** Open WebSocket connections to one document. */
  maxConnectionsPerDocument: number;
  /** Open WebSocket connections in total. */
  maxConnections: number;
  /** Documents held in memory at once. */
  maxOpenDocuments: number;
  /** Documents one shared connection (PROTOCOL.md §8) may have open at once. */
  maxDocumentsPerSocket: number;
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
  /** When automatic versions are taken (default: room-versions.ts). */
  versions?: VersionPolicy;
  /** An export or import taking longer fails with 503 (default 30 s). */
  conversionTimeoutMs?: number;
  limits?: Partial<ServerLimits>;
  /** Decides who may do what; default: everyone may do everything (auth off). */
  authorize?: Authorize;
  /**
   * Origins (scheme://host[:port]) whose browser pages may open WebSockets,
   * besides the server's own. ["*"]: any. Clients that send no Origin
   * header (not browsers) are not affected.
   */
  allowedOrigins?: readonly string[];
  /**
   * Host headers (name, optional port) requests and upgrades must carry,
   * against DNS rebinding; others get 421. null or absent: no check.
   */
  allowedHosts?: readonly HostPattern[] | null;
  /** Serve HTTPS and WSS directly with this certificate (PEM). */
  tls?: { cert: Buffer | string; key: Buffer | string } | undefined;
  /** How long shutdown waits for clients to finish the close handshake. */
  shutdownGraceMs?: number;
  /**
   * HTTP fallback sessions (PROTOCOL.md §7): a poll is answered after
   * `pollMs` at the latest (default 25 s); a session with no poll for
   * `idleMs` is dropped (default: the heartbeat interval, or 30 s).
   */
  httpSessions?: { pollMs?: number; idleMs?: number };
  /** Serve Prometheus metrics at GET /metrics (default true). */
  metrics?: boolean;
  /**
   * A full garbage collection (globalThis.gc under node --expose-gc), run
   * once the server goes quiet after shedding many connections, so the
   * memory they used goes back to the OS. Without it, V8 keeps that memory.
   */
  gc?: (() => void) | undefined;
  /**
   * Cluster mode: the pub/sub that links this server to the others serving
   * the same store. The caller keeps it and closes it after `close`.
   */
  pubsub?: PubSub | undefined;
  /** Cluster timing (tests shorten it). */
  cluster?: Pick<
    ClusterOptions,
    | "heartbeatMs"
    | "nodeTimeoutMs"
    | "subscribeTimeoutMs"
    | "maxRelayedUpdateBytes"
    | "advertiseUrl"
  >;
}

export interface CowriteServer {
  readonly httpServer: http.Server | https.Server;
  readonly rooms: RoomRegistry;
  /** This server's id in a cluster; null when it runs alone. */
  readonly nodeId: string | null;
  /** Open connections, WebSocket and HTTP fallback. */
  readonly connectionCount: number;
  /** HTTP fallback sessions, including closed ones whose close is not yet delivered. */
  readonly httpSessionCount: number;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes clients with 1001, waits for every save. */
  close(): Promise<void>;
}

const defaultLimits: ServerLimits = {
  maxMessageBytes: 32 * 1024 * 1024,
  maxQueuedFrames: 1000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxMessagesPerSecond: 200,
  maxAwarenessBytes: 64 * 1024,
  maxConnectionsPerDocument: 500,
  maxConnections: 20_000,
  maxOpenDocuments: 5_000,
  maxDocumentsPerSocket: 64,
};

export function createServer(options: ServerOptions): CowriteServer {
  const { store, logger } = options;
  const allowedHosts = options.allowedHosts ?? null;
  const now = options.now ?? Date.now;
  const limits = { ...defaultLimits, ...options.limits };
  const shutdownGraceMs = options.shutdownGraceMs ?? 3000;
  const connections = new ConnectionSet();
  /** Shared connections (one socket, many documents); their channels are in `connections`. */
  const sharedSockets = new Set<MuxSocket>();
  /** Open WebSockets, whatever they carry. */
  let socketCount = 0;
  let nextConnectionId = 1;
  let closing: Promise<void> | null = null;
  const reclaimer = new MemoryReclaimer({ gc: options.gc });
  const metrics =
    options.metrics === false
      ? null
      : createMetrics({
          connections: () => connections.size,
          httpSessions: () => httpSessions.size,
          documents: () => rooms.size,
          clusterNodes: options.pubsub && ((): number => cluster?.nodeCount ?? 1),
        });

  const cluster: Cluster | null = options.pubsub
    ? new Cluster({
        pubsub: options.pubsub,
        logger,
        now,
        ...options.cluster,
        openRooms: () => rooms.openRooms(),
        metrics: metrics ?? undefined,
        onDeleted: (docId) => {
          void rooms.deletedElsewhere(docId).catch((error: unknown) => {
            logger.error({ err: error, docId }, "closing a document deleted elsewhere failed");
          });
        },
      })
    : null;
  const loadRoom = (docId: string, relay?: RoomRelay) =>
    Room.load({
      docId,
      store,
      now,
      logger: logger.child({ docId }),
      compactEvery: options.compactEvery ?? 500,
      ...(options.versions ? { versions: options.versions } : {}),
      maxAwarenessBytes: limits.maxAwarenessBytes,
      metrics: metrics ?? noMetrics,
      relay,
    });
  const rooms: RoomRegistry = new RoomRegistry({
    open: (docId) =>
      cluster ? cluster.openRoom(docId, (relay) => loadRoom(docId, relay)) : loadRoom(docId),
    remove: async (docId) => {
      const existed = await store.delete(docId);
      cluster?.announceDeleted(docId);
      return existed;
    },
    onCloseError: (docId, error) => logger.error({ err: error, docId }, "closing a room failed"),
  });
  const authorize = options.authorize ?? openAccess;
  const admission: AdmissionOptions = {
    authorize,
    allowedOrigins: options.allowedOrigins ?? [],
    limits,
    connections,
    rooms,
    logger,
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((req, _res, next) => {
    if (!isHostAllowed(req.headers.host, allowedHosts)) {
      throw new HttpError(
        421,
        "misdirected_request",
        "this server does not answer to that host name",
      );
    }
    next();
  });
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const { status, body } = await checkReadiness({
      store,
      rooms,
      isClosing: () => closing !== null,
    });
    res.status(status).json(body);
  });
  if (metrics) {
    app.get("/metrics", async (_req, res) => {
      const { contentType, body } = await metrics.render();
      res.type(contentType).send(body);
    });
  }
  const stats = (docId: string | null) => ({
    ...countLoad(connections, socketCount, rooms, docId),
    httpSessions: { open: httpSessions.size, polling: httpSessions.pollingCount },
  });
  // Exports and imports convert on a worker thread, never on this event loop.
  const formats = createFormatPool({ timeoutMs: options.conversionTimeoutMs ?? 30_000 });
  app.use("/api", createApiRouter({ store, rooms, logger, now, authorize, stats, formats }));
  // The HTTP fallback (PROTOCOL.md §7): the same frames, for clients whose
  // proxies refuse WebSocket upgrades. Pages of the allowed origins may use
  // it too (CORS); the session's own checks are admission's, as for sockets.
  app.use(HTTP_TRANSPORT_PATH, (req, res, next) => {
    const origin = req.headers.origin;
    if (
      origin === undefined ||
      !isOriginAllowed(origin, req.headers.host, admission.allowedOrigins)
    ) {
      next();
      return;
    }
    res.set({
      "access-control-allow-origin": origin,
      vary: "Origin",
      "access-control-expose-headers": HTTP_RESPONSE_HEADERS.join(", "),
    });
    if (req.method !== "OPTIONS") {
      next();
      return;
    }
    res.set({
      "access-control-allow-methods": "GET, POST, DELETE",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
    });
    res.status(204).end();
  });
  // A shared connection over HTTP (PROTOCOL.md §8 over §7): one session, a
  // channel per document. Before `/:docId`, which "~" (no valid id) would reach.
  app.post(`${HTTP_TRANSPORT_PATH}/${HTTP_SHARED_SEGMENT}`, (req, res) => {
    if (closing) throw new HttpError(503, "shutting_down", "server shutting down");
    const refusal = refuseShared(req.headers);
    if (refusal) {
      throw new HttpError(refusal.status, "refused", "this shared connection is not allowed");
    }
    const session = httpSessions.create();
    acceptShared(session, { host: req.headers.host, origin: req.headers.origin });
    res
      .status(201)
      .set("cache-control", "no-store")
      .json({ session: session.id, protocol: MUX_SUBPROTOCOL });
  });
  app.post(`${HTTP_TRANSPORT_PATH}/:docId`, async (req, res) => {
    if (closing) throw new HttpError(503, "shutting_down", "server shutting down");
    const docId = req.params.docId;
    const url = new URL(req.originalUrl, "http://localhost");
    const verdict = await admit(req, { url, docId }, admission);
    const session = httpSessions.create();
    // Rejections, like the WebSocket's, are a session that closes at once:
    // the client's first poll carries the code and reason.
    accept(session, verdict, docId);
    res.status(201).set("cache-control", "no-store").json({ session: session.id });
  });
  // A session held by another node of the cluster (no sticky routing): its
  // requests go there (http-forward.ts).
  app.all(`${HTTP_TRANSPORT_PATH}/:docId/:session`, (req, res, next) => {
    const owner = nodeOfSession(req.params.session);
    const ownerUrl =
      cluster === null || owner === null || owner === cluster.nodeId ? null : cluster.urlOf(owner);
    if (ownerUrl === null || req.headers[FORWARDED_HEADER] !== undefined) {
      next();
      return;
    }
    forwardToNode(req, res, ownerUrl, logger);
  });
  app.get(`${HTTP_TRANSPORT_PATH}/:docId/:session`, (req, res) => {
    httpSessions.poll(
      req.params.session,
      new URL(req.originalUrl, "http://localhost").searchParams,
      res,
    );
  });
  app.post(`${HTTP_TRANSPORT_PATH}/:docId/:session`, async (req, res) => {
    await httpSessions.receive(req.params.session, req, res);
  });
  app.delete(`${HTTP_TRANSPORT_PATH}/:docId/:session`, (req, res) => {
    httpSessions.end(req.params.session, res);
  });
  app.get("/ws/{*rest}", () => {
    throw new HttpError(426, "upgrade_required", "this endpoint speaks WebSocket");
  });
  if (options.clientDir) {
    mountClient(app, options.clientDir, {
      // With auth on, a visitor without a token may not create documents:
      // the demo then needs ?doc= (and a token) like any embedding page.
      demoDocument:
        authorize === openAccess
          ? async () => {
              await ensureTitledDocument({ store, rooms, now }, DEMO_DOCUMENT_ID, "Embedding demo");
              return DEMO_DOCUMENT_ID;
            }
          : null,
    });
  }
  app.use((req, res) => {
    // A person who followed a bad link gets a page; API clients get JSON.
    const isPage = req.method === "GET" || req.method === "HEAD";
    if (isPage && !req.path.startsWith("/api/") && req.accepts(["json", "html"]) === "html") {
      res.status(404).type("html").send(notFoundPage);
      return;
    }
    throw new HttpError(404, "not_found", `no route ${req.method} ${req.path}`);
  });
  app.use(jsonErrorHandler(logger));

  const httpServer = options.tls ? https.createServer(options.tls, app) : http.createServer(app);
  httpServer.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    // Not the error itself: it carries the raw request bytes (rawPacket),
    // which may hold a token.
    logger.debug({ code: error.code, reason: error.message }, "bad HTTP request");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  // No client tracking in ws: `connections` already holds every socket.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    clientTracking: false,
    // Select `cowrite` (or the shared connection's version), never the
    // offered token (a client offering subprotocols fails the handshake
    // unless the server selects one).
    handleProtocols: (protocols) =>
      protocols.has(MUX_SUBPROTOCOL)
        ? MUX_SUBPROTOCOL
        : protocols.has(WS_SUBPROTOCOL)
          ? WS_SUBPROTOCOL
          : false,
  });
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const httpSessions: HttpSessions = new HttpSessions({
    pollMs: options.httpSessions?.pollMs ?? 25_000,
    idleMs: options.httpSessions?.idleMs ?? (heartbeatMs > 0 ? heartbeatMs : 30_000),
    maxMessageBytes: limits.maxMessageBytes,
    maxBodyBytes: limits.maxQueuedBytes,
    nodeId: cluster?.nodeId ?? null,
  });
  const connectionShared: ConnectionShared = {
    rooms,
    logger,
    now,
    maxQueuedFrames: limits.maxQueuedFrames,
    maxQueuedBytes: limits.maxQueuedBytes,
    maxBufferedBytes: limits.maxBufferedBytes,
    maxMessagesPerSecond: limits.maxMessagesPerSecond,
  };
  // One listener for every upgrade socket: a closure per socket would keep
  // its request (headers and all) alive for as long as the connection lasts.
  const onUpgradeSocketError = (error: Error) =>
    logger.debug({ err: error }, "upgrade socket error");
  httpServer.on("upgrade", (req, socket, head) => {
    socket.on("error", onUpgradeSocketError);
    if (closing) return rejectUpgrade(socket, 503, "Service Unavailable");
    const screening = screenUpgrade(req, allowedHosts);
    if ("status" in screening) return rejectUpgrade(socket, screening.status, screening.text);
    if ("shared" in screening) {
      // Each channel is admitted on its own; the socket itself is checked
      // for what needs no document: its origin, and room for one more socket.
      const refusal = refuseShared(req.headers);
      if (refusal) return rejectUpgrade(socket, refusal.status, refusal.text);
      // These are all a channel's admission needs of the request.
      const headers = { host: req.headers.host, origin: req.headers.origin };
      wss.handleUpgrade(req, socket, head, (ws) => {
        track(ws);
        acceptShared(ws, headers);
      });
      return;
    }
    const { docId } = screening.target;
    void admit(req, screening.target, admission).then((verdict) => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        track(ws);
        accept(ws, verdict, docId);
      });
    });
  });

  /** Counts a socket until it closes. */
  function track(ws: WebSocket): void {
    socketCount += 1;
    ws.once("close", () => {
      socketCount -= 1;
    });
  }

  /**
   * What a shared connection (a socket, or an HTTP session) is checked for
   * before it exists: what needs no document, its origin and room for one
   * more. Each channel is then admitted on its own.
   */
  function refuseShared(headers: {
    host?: string | undefined;
    origin?: string | undefined;
  }): { status: number; text: string } | null {
    if (!isOriginAllowed(headers.origin, headers.host, admission.allowedOrigins)) {
      return { status: 403, text: "Forbidden" };
    }
    if (connections.size + sharedSockets.size >= limits.maxConnections) {
      return { status: 503, text: "Service Unavailable" };
    }
    return null;
  }

  /** Starts a shared connection: one socket (or HTTP session), a channel per document (PROTOCOL.md §8). */
  function acceptShared(ws: PeerSocket, headers: { host?: string; origin?: string }): void {
    if (closing) {
      closeRejected(ws, CLOSE_GOING_AWAY, "server shutting down");
      return;
    }
    const shared = new MuxSocket({
      ws,
      logger,
      maxChannels: limits.maxDocumentsPerSocket,
      maxPendingFrames: limits.maxQueuedFrames,
      maxPendingBytes: limits.maxQueuedBytes,
      admit: (docId, token) =>
        admit({ headers }, { url: new URL("/ws", "http://localhost"), docId, token }, admission),
      // A channel is the part of a socket a Connection uses (mux-socket.ts).
      start: (channel, verdict) => startConnection(channel, verdict),
    });
    sharedSockets.add(shared);
    void shared.finished.then(() => sharedSockets.delete(shared));
  }

  /**
   * Closes a socket that never became a Connection. It is in no set, so a
   * client that never answers the close frame is cut off after a while
   * (shutdown does not wait for ws's own 30 s close timeout).
   */
  function closeRejected(ws: PeerSocket, code: number, reason: string): void {
    ws.close(code, reason);
    // An HTTP session's close waits for its next poll, however slow the
    // client (a throttled background tab): its idle timer ends it.
    if (ws instanceof HttpSession) return;
    setTimeout(() => ws.terminate(), shutdownGraceMs).unref();
  }

  /** Starts a Connection for an upgraded socket (or closes it with the verdict's reason). */
  function accept(ws: PeerSocket, verdict: Verdict, docId: string | null): void {
    // Shutdown may have begun while we were checking the credentials.
    if (closing) {
      closeRejected(ws, CLOSE_GOING_AWAY, "server shutting down");
      return;
    }
    // Rejections happen after the upgrade so that a browser sees the close code and reason.
    if ("reject" in verdict) {
      logger.info({ docId, code: verdict.reject.code, reason: verdict.reject.reason }, "rejected");
      closeRejected(ws, verdict.reject.code, verdict.reject.reason);
      return;
    }
    startConnection(ws, verdict);
  }

  /** Serves an admitted socket, or a shared connection's channel, as a Connection. */
  function startConnection(ws: PeerSocket, verdict: Extract<Verdict, { docId: string }>): void {
    if (closing) {
      ws.close(CLOSE_GOING_AWAY, "server shutting down");
      return;
    }
    const connection = new Connection({
      ws,
      id: String(nextConnectionId++),
      docId: verdict.docId,
      readOnly: verdict.access.permission === "read",
      user: verdict.access.user,
      expiresAt: verdict.access.expiresAt,
      shared: connectionShared,
    });
    connections.add(connection);
    reclaimer.connectionsChanged(connections.size);
    void connection.finished.then(() => {
      connections.delete(connection);
      reclaimer.connectionsChanged(connections.size);
    });
  }

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const connection of connections) connection.heartbeat();
          for (const shared of sharedSockets) shared.heartbeat();
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  async function shutdown(): Promise<void> {
    if (heartbeat) clearInterval(heartbeat);
    reclaimer.stop();
    const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    const finishing = [...connections].map((connection) => connection.finished);
    for (const connection of connections)
      connection.close(CLOSE_GOING_AWAY, "server shutting down");
    // After their channels' close messages, which go out first.
    for (const shared of sharedSockets) shared.close(CLOSE_GOING_AWAY, "server shutting down");
    // Also answers the polls held open, which would keep the server from closing.
    httpSessions.closeAll();
    // Clients get a moment to answer the close frame; the rest are cut off.
    const grace = setTimeout(() => {
      rooms.abandonSaves();
      for (const connection of connections) connection.terminate();
      for (const shared of sharedSockets) shared.terminate();
      httpSessions.terminateAll();
      httpServer.closeAllConnections();
    }, shutdownGraceMs);
    await Promise.all(finishing);
    await rooms.drain();
    await cluster?.close();
    clearTimeout(grace);
    httpServer.closeAllConnections();
    httpSessions.terminateAll();
    await stopped;
    wss.close();
    await formats.close();
  }

  return {
    httpServer,
    rooms,
    nodeId: cluster?.nodeId ?? null,
    get connectionCount() {
      return connections.size;
    },
    get httpSessionCount() {
      return httpSessions.size;
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

/** What a browser gets for an unknown address (static: it echoes nothing from the request). */
const notFoundPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Page not found · Cowrite</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 15vh auto; padding: 0 1.5rem; background: #f1f3f4; color: #202124; }
a { color: #1a73e8; }
@media (prefers-color-scheme: dark) {
  body { background: #131314; color: #e3e3e3; }
  a { color: #8ab4f8; }
}
</style>
</head>
<body>
<h1>Page not found</h1>
<p>There is nothing at this address. The link may be mistyped, or what it pointed to has moved.</p>
<p><a href="/">Go to all documents</a></p>
</body>
</html>
`;

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
