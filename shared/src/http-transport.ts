/**
 * The HTTP fallback's wire format (PROTOCOL.md §7): the same y-protocols
 * messages as over a WebSocket, several to one HTTP body, each prefixed by
 * its length as a lib0 varuint. The server's close (code and reason) travels
 * in response headers. Bytes and names only: no fetch, no sockets.
 */
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { ProtocolError } from "./protocol.ts";

/** Path prefix of the fallback's routes: `/http/<docId>[/<session>]`. */
export const HTTP_TRANSPORT_PATH = "/http";
/**
 * `/http/~[/<session>]`: a shared connection's session (PROTOCOL.md §8 over
 * §7). "~" is no valid document id, so no document can take its place.
 */
export const HTTP_SHARED_SEGMENT = "~";
/** Response header of a poll: the position to ask for next (frames before it are acknowledged). */
export const HTTP_NEXT_POSITION_HEADER = "cowrite-next-position";
/** Response header of the poll that ends a session: the close code. */
export const HTTP_CLOSE_CODE_HEADER = "cowrite-close-code";
/** With the close code: the reason, percent-encoded (headers are Latin-1). */
export const HTTP_CLOSE_REASON_HEADER = "cowrite-close-reason";

/** Frames as one body: each a varuint length then its bytes. */
export function encodeFrameBatch(frames: readonly Uint8Array[]): Uint8Array {
  const encoder = encoding.createEncoder();
  for (const frame of frames) encoding.writeVarUint8Array(encoder, frame);
  return encoding.toUint8Array(encoder);
}

/**
 * The frames of a body, in order; throws ProtocolError for a truncated one.
 * A frame longer than `maxFrameBytes` throws FrameTooBigError before its
 * bytes are read.
 */
export function decodeFrameBatch(
  bytes: Uint8Array,
  maxFrameBytes = Number.POSITIVE_INFINITY,
): Uint8Array[] {
  const decoder = decoding.createDecoder(bytes);
  const frames: Uint8Array[] = [];
  while (decoding.hasContent(decoder)) {
    let length: number;
    try {
      length = decoding.readVarUint(decoder);
    } catch {
      throw new ProtocolError("truncated frame length");
    }
    if (length > maxFrameBytes) throw new FrameTooBigError(length);
    if (decoder.pos + length > bytes.length) throw new ProtocolError("truncated frame");
    frames.push(bytes.subarray(decoder.pos, decoder.pos + length));
    decoder.pos += length;
  }
  return frames;
}

export class FrameTooBigError extends Error {
  override name = "FrameTooBigError";
  constructor(readonly length: number) {
    super(`frame of ${length} bytes is too big`);
  }
}
