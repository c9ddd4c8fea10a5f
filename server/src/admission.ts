/**
 * Upgrade admission: whether a WebSocket upgrade may become a connection,
 * decided before any room state exists. Two stages:
 * - `screenUpgrade`, before the handshake: host name and path. Its
 *   rejections are HTTP statuses, as nothing has been upgraded yet.
 * - `admit`, after it: document id, origin, credentials, capacity, as a
 *   `Verdict`. Its rejections are close codes, sent once the socket is open
 *   so that a browser can see them.
 * Nothing here touches the socket; the server sends what these decide.
 */
import type http from "node:http";
import {
  CLOSE_BAD_FRAME,
  CLOSE_FORBIDDEN,
  CLOSE_TRY_AGAIN_LATER,
  isValidDocId,
  MUX_SUBPROTOCOL,
  WS_TOKEN_PROTOCOL_PREFIX,
} from "@cowrite/shared";
import type { Logger } from "pino";
import { type Access, AuthError, type Authorize } from "./auth.ts";
import { type HostPattern, isHostAllowed } from "./host-allowlist.ts";
import type { RoomRegistry } from "./rooms.ts";

/** Where an upgrade goes: its parsed URL and document id (null if not decodable). */
export interface UpgradeTarget {
  url: URL;
  docId: string | null;
  /**
   * The credential, when it does not come from the upgrade request (a
   * channel of a shared connection names its own); null: none.
   */
  token?: string | null;
}

export type Screening =
  | { target: UpgradeTarget }
  /** `/ws` itself: a shared connection (PROTOCOL.md §8) if it offers the mux subprotocol. */
  | { shared: true }
  | { status: number; text: string };

export type Verdict =
  | { docId: string; access: Access }
  | { reject: { code: number; reason: string } };

/** Open connections, in total and per document. */
export interface ConnectionCounts {
  readonly size: number;
  countFor(docId: string): number;
}

export interface AdmissionOptions {
  authorize: Authorize;
  /** See ServerOptions.allowedOrigins. */
  allowedOrigins: readonly string[];
  limits: { maxConnections: number; maxConnectionsPerDocument: number; maxOpenDocuments: number };
  connections: ConnectionCounts;
  rooms: RoomRegistry;
  logger: Logger;
}

/** The checks that need no credentials: host allowlist, then /ws/<docId> (or /ws, shared). */
export function screenUpgrade(
  req: http.IncomingMessage,
  allowedHosts: readonly HostPattern[] | null,
): Screening {
  if (!isHostAllowed(req.headers.host, allowedHosts)) {
    return { status: 421, text: "Misdirected Request" };
  }
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://localhost");
  } catch {
    return { status: 400, text: "Bad Request" };
  }
  if (url.pathname === "/ws") {
    const offered = req.headers["sec-websocket-protocol"]?.split(",") ?? [];
    if (!offered.some((protocol) => protocol.trim() === MUX_SUBPROTOCOL)) {
      return { status: 400, text: "Bad Request" };
    }
    return { shared: true };
  }
  const match = /^\/ws\/([^/]*)$/.exec(url.pathname);
  if (!match) return { status: 404, text: "Not Found" };
  return { target: { url, docId: safeDecode(match[1] ?? "") } };
}

/** Everything decided before any room state exists: id, origin, credentials, capacity. */
export async function admit(
  req: Pick<http.IncomingMessage, "headers">,
  { url, docId, token }: UpgradeTarget,
  options: AdmissionOptions,
): Promise<Verdict> {
  const { connections, rooms, limits } = options;
  const reject = (code: number, reason: string): Verdict => ({ reject: { code, reason } });
  if (docId === null || !isValidDocId(docId)) return reject(CLOSE_BAD_FRAME, "invalid document id");
  if (!isOriginAllowed(req.headers.origin, req.headers.host, options.allowedOrigins)) {
    return reject(CLOSE_FORBIDDEN, "origin not allowed");
  }
  let access: Access;
  try {
    access = await options.authorize(token !== undefined ? token : tokenOf(req, url), docId);
  } catch (error) {
    if (error instanceof AuthError) return reject(error.closeCode, error.message);
    options.logger.error({ err: error, docId }, "authorization failed unexpectedly");
    return reject(CLOSE_FORBIDDEN, "authorization failed");
  }
  if (connections.size >= limits.maxConnections) {
    return reject(CLOSE_TRY_AGAIN_LATER, "server has too many connections; try again later");
  }
  if (connections.countFor(docId) >= limits.maxConnectionsPerDocument) {
    return reject(CLOSE_TRY_AGAIN_LATER, "document has too many connections; try again later");
  }
  if (!rooms.get(docId) && rooms.size >= limits.maxOpenDocuments) {
    return reject(CLOSE_TRY_AGAIN_LATER, "server has too many open documents; try again later");
  }
  return { docId, access };
}

/**
 * Browsers always send Origin on WebSocket handshakes, so checking it stops
 * other sites' pages from opening sockets with the user's cookies or network
 * position (cross-site WebSocket hijacking).
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  // The server's own pages are always allowed; the list only widens that.
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * The upgrade's token: from the `cowrite-token.` subprotocol (Cowrite's
 * client), else from `Authorization: Bearer` (the HTTP fallback), else from
 * `?token=` (stock y-websocket clients can set only the URL).
 */
function tokenOf(req: Pick<http.IncomingMessage, "headers">, url: URL): string | null {
  const offered = req.headers["sec-websocket-protocol"]?.split(",") ?? [];
  for (const protocol of offered) {
    const value = protocol.trim();
    if (value.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) {
      return value.slice(WS_TOKEN_PROTOCOL_PREFIX.length);
    }
  }
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "");
  if (bearer?.[1]) return bearer[1].trim();
  return url.searchParams.get("token");
}

function safeDecode(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
