/**
 * One WebSocket carrying many documents (PROTOCOL.md §8): a page with
 * several editors opens one connection instead of one per editor.
 *
 * The socket is opened on `/ws` (no document id) offering the subprotocol
 * `MUX_SUBPROTOCOL`; a server that speaks this version selects it, which is
 * the version handshake. Every binary message is one `MuxMessage`: the
 * client opens a numbered channel for a document (with that document's
 * token), then each side sends ordinary y-websocket frames (protocol.ts)
 * wrapped with the channel number, and either side ends a channel with a
 * close code and reason, exactly those a WebSocket of its own would get.
 * Malformed input throws `ProtocolError` and nothing else.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { ProtocolError, readPayload, readVarUintStrict } from "./protocol.ts";

/** Version 1 of the shared connection; a later version gets a new name. */
export const MUX_SUBPROTOCOL = "cowrite-mux.1";

export const MUX_OPEN = 0;
export const MUX_DATA = 1;
export const MUX_CLOSE = 2;

/** Longest token or close reason a mux message may carry (bytes of UTF-8). */
export const MUX_MAX_TEXT_BYTES = 8192;

export type MuxMessage =
  /** Client to server: start `channel` on document `docId`; `token` "" means none. */
  | { type: "open"; channel: number; docId: string; token: string }
  /** Either way: one y-websocket frame of `channel`. */
  | { type: "data"; channel: number; frame: Uint8Array }
  /** Either way: `channel` is over, with a WebSocket close code and reason. */
  | { type: "close"; channel: number; code: number; reason: string };

export function encodeMuxMessage(message: MuxMessage): Uint8Array {
  const encoder = encoding.createEncoder();
  switch (message.type) {
    case "open":
      encoding.writeVarUint(encoder, MUX_OPEN);
      encoding.writeVarUint(encoder, message.channel);
      encoding.writeVarString(encoder, message.docId);
      encoding.writeVarString(encoder, message.token);
      break;
    case "data":
      encoding.writeVarUint(encoder, MUX_DATA);
      encoding.writeVarUint(encoder, message.channel);
      encoding.writeVarUint8Array(encoder, message.frame);
      break;
    case "close":
      encoding.writeVarUint(encoder, MUX_CLOSE);
      encoding.writeVarUint(encoder, message.channel);
      encoding.writeVarUint(encoder, message.code);
      encoding.writeVarString(encoder, message.reason);
      break;
  }
  return encoding.toUint8Array(encoder);
}

export function decodeMuxMessage(bytes: Uint8Array): MuxMessage {
  if (bytes.length === 0) throw new ProtocolError("empty message");
  const decoder = decoding.createDecoder(bytes);
  let message: MuxMessage;
  try {
    message = readMuxMessage(decoder);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError(`malformed message: ${(error as Error).message}`);
  }
  if (decoding.hasContent(decoder)) {
    throw new ProtocolError(`mux ${message.type} message has trailing bytes`);
  }
  return message;
}

function readMuxMessage(decoder: decoding.Decoder): MuxMessage {
  const type = readVarUintStrict(decoder);
  const channel = readVarUintStrict(decoder);
  switch (type) {
    case MUX_OPEN:
      return { type: "open", channel, docId: readText(decoder), token: readText(decoder) };
    case MUX_DATA:
      return { type: "data", channel, frame: readPayload(decoder) };
    case MUX_CLOSE: {
      const code = readVarUintStrict(decoder);
      return { type: "close", channel, code, reason: readText(decoder) };
    }
    default:
      throw new ProtocolError(`unknown mux message type ${type}`);
  }
}

function readText(decoder: decoding.Decoder): string {
  const bytes = readPayload(decoder);
  if (bytes.length > MUX_MAX_TEXT_BYTES) throw new ProtocolError("text field too long");
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
