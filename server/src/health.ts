/**
 * What /readyz and /api/stats answer. Plain values: the server's routes send
 * them, so this module needs no HTTP framework.
 */
import type { ConnectionCounts } from "./admission.ts";
import type { RoomRegistry } from "./rooms.ts";
import type { DocStore } from "./storage/doc-store.ts";

export interface Readiness {
  status: 200 | 503;
  body: { status: string; [detail: string]: unknown };
}

/**
 * Ready when storage answers, the server is not shutting down and no open
 * document's saves are failing: a load balancer should send new clients
 * elsewhere otherwise. The answer is public (probes carry no token), so it
 * names no documents and no storage errors; those are in the log.
 */
export async function checkReadiness(options: {
  store: DocStore;
  rooms: RoomRegistry;
  isClosing: () => boolean;
}): Promise<Readiness> {
  const failing = options.rooms.openRooms().filter((room) => room.lastSaveError);
  try {
    await options.store.ping();
  } catch {
    return { status: 503, body: { status: "storage unavailable" } };
  }
  if (options.isClosing()) return { status: 503, body: { status: "shutting down" } };
  if (failing.length > 0) {
    return { status: 503, body: { status: "saves failing" } };
  }
  return { status: 200, body: { status: "ready" } };
}

/**
 * Read-only counters, e.g. for checking that embedded editors free their
 * sockets: `connections` are document connections (a shared connection's
 * channels each count), `sockets` the WebSockets carrying them.
 */
export function countLoad(
  connections: ConnectionCounts,
  sockets: number,
  rooms: RoomRegistry,
  docId: string | null,
): object {
  return {
    connections: connections.size,
    sockets,
    documents: rooms.size,
    ...(docId === null ? {} : { doc: { id: docId, connections: connections.countFor(docId) } }),
  };
}
