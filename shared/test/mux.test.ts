import { describe, expect, it } from "vitest";
import {
  decodeMuxMessage,
  encodeMuxMessage,
  MUX_MAX_TEXT_BYTES,
  type MuxMessage,
  ProtocolError,
} from "../src/index.ts";

describe("mux messages (PROTOCOL.md §8)", () => {
  it.each<MuxMessage>([
    { type: "open", channel: 1, docId: "doc-1", token: "a.b.c" },
    { type: "open", channel: 300, docId: "doc", token: "" },
    { type: "data", channel: 2, frame: Uint8Array.of(0, 0, 1, 0) },
    { type: "close", channel: 2, code: 4403, reason: "zugriff verweigert ✋" },
  ])("round-trips %j", (message) => {
    expect(decodeMuxMessage(encodeMuxMessage(message))).toEqual(message);
  });

  it.each([
    ["empty", Uint8Array.of()],
    ["unknown type", Uint8Array.of(9, 1)],
    ["truncated channel", Uint8Array.of(1)],
    ["length past the end", Uint8Array.of(1, 1, 5, 0)],
    ["trailing bytes", Uint8Array.of(2, 1, 0, 0, 7)],
    ["invalid UTF-8", Uint8Array.of(0, 1, 1, 0xff, 0)],
    ["truncated close", Uint8Array.of(2, 1)],
  ])("rejects %s with a ProtocolError", (_name, bytes) => {
    expect(() => decodeMuxMessage(bytes)).toThrow(ProtocolError);
  });

  it("rejects a token longer than the limit", () => {
    const bytes = encodeMuxMessage({
      type: "open",
      channel: 1,
      docId: "d",
      token: "x".repeat(MUX_MAX_TEXT_BYTES + 1),
    });
    expect(() => decodeMuxMessage(bytes)).toThrow(/too long/);
  });
});
