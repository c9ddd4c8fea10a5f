/**
 * The y-websocket wire protocol, as typed frames.
 *
 * Every WebSocket binary message is one frame: a varuint message type followed
 * by its payload (see PROTOCOL.md). This module turns bytes into typed frames
 * and back; it has no sockets, timers or storage. Malformed input throws
 * `ProtocolError` and nothing else.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as Y from "yjs";

/**
 * WebSocket subprotocols (PROTOCOL.md §1): a client may offer its token as
 * `cowrite-token.<token>` next to `cowrite`, and the server selects `cowrite`.
 * Unlike `?token=`, a handshake header ends up in no URL, so in no access log
 * or browser history.
 */
export const WS_SUBPROTOCOL = "cowrite";
export const WS_TOKEN_PROTOCOL_PREFIX = "cowrite-token.";

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

export const SYNC_STEP_1 = 0;
export const SYNC_STEP_2 = 1;
export const SYNC_UPDATE = 2;

/** The only auth sub-message y-protocols defines. */
export const AUTH_PERMISSION_DENIED = 0;

export type Frame =
  /** "Here is my state vector; send me what I am missing." */
  | { type: "sync-step-1"; stateVector: Uint8Array }
  /** The answer to a step 1: a Yjs update with everything the asker lacks. */
  | { type: "sync-step-2"; update: Uint8Array }
  /** A live Yjs update. */
  | { type: "update"; update: Uint8Array }
  /** A y-protocols awareness update (presence: names, carets). */
  | { type: "awareness"; update: Uint8Array }
  /** "Send me every awareness state you know." */
  | { type: "query-awareness" }
  /** Server-to-client: the connection may not do what it tried. */
  | { type: "permission-denied"; reason: string };

export type FrameType = Frame["type"];

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export function encodeFrame(frame: Frame): Uint8Array {
  const encoder = encoding.createEncoder();
  switch (frame.type) {
    case "sync-step-1":
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      encoding.writeVarUint(encoder, SYNC_STEP_1);
      encoding.writeVarUint8Array(encoder, frame.stateVector);
      break;
    case "sync-step-2":
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      encoding.writeVarUint(encoder, SYNC_STEP_2);
      encoding.writeVarUint8Array(encoder, frame.update);
      break;
    case "update":
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      encoding.writeVarUint(encoder, SYNC_UPDATE);
      encoding.writeVarUint8Array(encoder, frame.update);
      break;
    case "awareness":
      encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(encoder, frame.update);
      break;
    case "query-awareness":
      encoding.writeVarUint(encoder, MESSAGE_QUERY_AWARENESS);
      break;
    case "permission-denied":
      encoding.writeVarUint(encoder, MESSAGE_AUTH);
      encoding.writeVarUint(encoder, AUTH_PERMISSION_DENIED);
      encoding.writeVarString(encoder, frame.reason);
      break;
  }
  return encoding.toUint8Array(encoder);
}

/**
 * Decodes one frame. Throws `ProtocolError` for unknown message types,
 * truncated or overlong payloads, trailing bytes, and state vectors or
 * awareness updates that do not parse. Yjs updates are checked by the caller
 * when it applies them (parsing one fully costs as much as applying it).
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length === 0) throw new ProtocolError("empty message");
  const decoder = decoding.createDecoder(bytes);
  let frame: Frame;
  try {
    frame = readFrame(decoder);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError(`malformed message: ${(error as Error).message}`);
  }
  if (decoding.hasContent(decoder)) {
    throw new ProtocolError(
      `${frame.type} message has ${bytes.length - decoder.pos} trailing bytes`,
    );
  }
  return frame;
}

function readFrame(decoder: decoding.Decoder): Frame {
  const messageType = readVarUintStrict(decoder);
  switch (messageType) {
    case MESSAGE_SYNC: {
      const syncType = readVarUintStrict(decoder);
      const payload = readPayload(decoder);
      switch (syncType) {
        case SYNC_STEP_1:
          checkStateVector(payload);
          return { type: "sync-step-1", stateVector: payload };
        case SYNC_STEP_2:
          return { type: "sync-step-2", update: payload };
        case SYNC_UPDATE:
          return { type: "update", update: payload };
        default:
          throw new ProtocolError(`unknown sync message type ${syncType}`);
      }
    }
    case MESSAGE_AWARENESS: {
      const update = readPayload(decoder);
      checkAwarenessUpdate(update);
      return { type: "awareness", update };
    }
    case MESSAGE_QUERY_AWARENESS:
      return { type: "query-awareness" };
    case MESSAGE_AUTH: {
      const authType = readVarUintStrict(decoder);
      if (authType !== AUTH_PERMISSION_DENIED) {
        throw new ProtocolError(`unknown auth message type ${authType}`);
      }
      return { type: "permission-denied", reason: decoding.readVarString(decoder) };
    }
    default:
      throw new ProtocolError(`unknown message type ${messageType}`);
  }
}

/** lib0 reads past the end as `undefined`-driven garbage in some paths; check first. */
export function readVarUintStrict(decoder: decoding.Decoder): number {
  if (!decoding.hasContent(decoder)) throw new ProtocolError("message truncated");
  const value = decoding.readVarUint(decoder);
  if (!Number.isSafeInteger(value) || value < 0) throw new ProtocolError("bad varuint");
  return value;
}

/** A varuint length and that many bytes, copied; a length past the end is malformed. */
export function readPayload(decoder: decoding.Decoder): Uint8Array {
  const length = readVarUintStrict(decoder);
  if (length > decoder.arr.length - decoder.pos) {
    throw new ProtocolError(`length ${length} runs past the end of the message`);
  }
  // Copy so the frame never aliases a pooled socket buffer.
  return decoding.readUint8Array(decoder, length).slice();
}

function checkStateVector(bytes: Uint8Array): void {
  const decoder = decoding.createDecoder(bytes);
  const count = readVarUintStrict(decoder);
  for (let i = 0; i < count; i++) {
    readVarUintStrict(decoder); // client id
    readVarUintStrict(decoder); // clock
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError("trailing bytes in state vector");
}

function checkAwarenessUpdate(bytes: Uint8Array): void {
  const decoder = decoding.createDecoder(bytes);
  const count = readVarUintStrict(decoder);
  for (let i = 0; i < count; i++) {
    readVarUintStrict(decoder); // client id
    readVarUintStrict(decoder); // clock
    const json = decoding.readVarString(decoder);
    try {
      JSON.parse(json);
    } catch {
      throw new ProtocolError("awareness state is not JSON");
    }
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError("trailing bytes in awareness update");
}

/** Convenience for callers that hold a Y.Doc. */
export function encodeSyncStep1(doc: Y.Doc): Uint8Array {
  return encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(doc) });
}
