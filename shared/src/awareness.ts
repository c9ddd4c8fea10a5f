/**
 * Awareness updates (y-protocols encoding) as plain entries, so a server can
 * inspect and rewrite them: a count, then per client its id, clock and JSON
 * state (`null` when the client left).
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { ProtocolError } from "./protocol.ts";

export interface AwarenessEntry {
  clientId: number;
  clock: number;
  /** The parsed JSON state; null means the client removed its state. */
  state: unknown;
  /** Size of the state's JSON text in bytes (UTF-16 code units, close enough for limits). */
  stateLength: number;
}

export function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    const entries: AwarenessEntry[] = [];
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const json = decoding.readVarString(decoder);
      entries.push({ clientId, clock, state: JSON.parse(json), stateLength: json.length });
    }
    if (decoding.hasContent(decoder)) throw new ProtocolError("trailing bytes in awareness update");
    return entries;
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError(`malformed awareness update: ${(error as Error).message}`);
  }
}

export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const entry of entries) {
    encoding.writeVarUint(encoder, entry.clientId);
    encoding.writeVarUint(encoder, entry.clock);
    encoding.writeVarString(encoder, JSON.stringify(entry.state));
  }
  return encoding.toUint8Array(encoder);
}
