/**
 * What Cowrite nodes say to each other over the pub/sub seam: one channel
 * per document (`doc:<id>`) and one for the nodes themselves (`nodes`).
 * Each message is a type byte and, for most, one binary payload (lib0
 * varUint8Array). Nodes of different versions must agree on these numbers:
 * add types, never renumber them.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

export const RelayType = {
  /** A Yjs update, durable in the store before it was sent. */
  update: 0,
  /** A y-protocols awareness update from the sender's clients. */
  awareness: 1,
  /** "Send me your clients' presence" (a node that just opened the document). */
  queryAwareness: 2,
  /** "Read the document from the store": the sender could not relay a change. */
  catchUp: 3,
  /** The document was deleted: close its clients (4404). */
  deleted: 4,
  /**
   * On `nodes`: the sender is alive. It may carry the URL other nodes reach
   * it at (for the HTTP fallback's sessions); older nodes ignore it.
   */
  heartbeat: 5,
  /** On `nodes`: the sender is shutting down; drop its clients' presence now. */
  goodbye: 6,
} as const;

export type RelayMessage =
  | { type: typeof RelayType.update | typeof RelayType.awareness; payload: Uint8Array }
  | { type: typeof RelayType.heartbeat; url?: string }
  | {
      type:
        | typeof RelayType.queryAwareness
        | typeof RelayType.catchUp
        | typeof RelayType.deleted
        | typeof RelayType.goodbye;
    };

const withPayload = new Set<number>([RelayType.update, RelayType.awareness]);
const known = new Set<number>(Object.values(RelayType));

export function encodeRelayMessage(message: RelayMessage): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, message.type);
  if ("payload" in message) encoding.writeVarUint8Array(encoder, message.payload);
  if (message.type === RelayType.heartbeat && message.url !== undefined) {
    encoding.writeVarString(encoder, message.url);
  }
  return encoding.toUint8Array(encoder);
}

/** Decodes a message; null for one this version does not know (a newer node's). */
export function decodeRelayMessage(bytes: Uint8Array): RelayMessage | null {
  const decoder = decoding.createDecoder(bytes);
  const type = decoding.readVarUint(decoder);
  if (!known.has(type)) return null;
  if (withPayload.has(type)) {
    return {
      type: type as typeof RelayType.update,
      payload: decoding.readVarUint8Array(decoder),
    };
  }
  if (type === RelayType.heartbeat && decoding.hasContent(decoder)) {
    return { type, url: decoding.readVarString(decoder) };
  }
  return { type } as RelayMessage;
}

export function documentChannel(docId: string): string {
  return `doc:${docId}`;
}

export const NODES_CHANNEL = "nodes";
