import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as awarenessProtocol from "y-protocols/awareness";
import * as Y from "yjs";
import { decodeFrame, encodeFrame, type Frame, ProtocolError } from "../src/protocol.ts";

// PROTOCOL.md §2: every frame is a varuint type followed by its payload.

const bytes = fc.uint8Array({ maxLength: 64 });

function stateVector(entries: [number, number][]): Uint8Array {
  // Y.encodeStateVector takes a Map of client -> clock.
  return Y.encodeStateVector(new Map(entries));
}

function awarenessUpdate(states: { id: number; name: string }[]): Uint8Array {
  const doc = new Y.Doc();
  const awareness = new awarenessProtocol.Awareness(doc);
  awareness.setLocalState(null);
  for (const { id, name } of states) {
    awareness.states.set(id, { user: { name } });
    awareness.meta.set(id, { clock: 1, lastUpdated: 0 });
  }
  const update = awarenessProtocol.encodeAwarenessUpdate(
    awareness,
    states.map((s) => s.id),
  );
  awareness.destroy();
  return update;
}

const frames: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .array(fc.tuple(fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 31 })), { maxLength: 5 })
    .map((entries) => ({ type: "sync-step-1" as const, stateVector: stateVector(entries) })),
  bytes.map((update) => ({ type: "sync-step-2" as const, update })),
  bytes.map((update) => ({ type: "update" as const, update })),
  fc
    .uniqueArray(fc.record({ id: fc.nat({ max: 2 ** 32 - 1 }), name: fc.string() }), {
      maxLength: 4,
      selector: (s) => s.id,
    })
    .map((states) => ({ type: "awareness" as const, update: awarenessUpdate(states) })),
  fc.constant({ type: "query-awareness" as const }),
  fc.string().map((reason) => ({ type: "permission-denied" as const, reason })),
);

describe("frame codec", () => {
  it("decode(encode(frame)) equals frame", () => {
    fc.assert(
      fc.property(frames, (frame) => {
        expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes what the y-protocols encoders produce", () => {
    const doc = new Y.Doc();
    doc.getText("t").insert(0, "hi");
    const update = Y.encodeStateAsUpdate(doc);
    const frame = decodeFrame(encodeFrame({ type: "update", update }));
    expect(frame).toEqual({ type: "update", update });
  });

  it("random bytes decode to a frame or throw ProtocolError, nothing else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (input) => {
        try {
          decodeFrame(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it("every truncation of a valid frame throws ProtocolError", () => {
    fc.assert(
      fc.property(frames, fc.nat(), (frame, cut) => {
        const encoded = encodeFrame(frame);
        if (encoded.length < 2) return;
        const truncated = encoded.slice(0, cut % encoded.length);
        expect(() => decodeFrame(truncated)).toThrow(ProtocolError);
      }),
      { numRuns: 5000 },
    );
  });

  it("mutated valid frames decode or throw ProtocolError", () => {
    fc.assert(
      fc.property(frames, fc.nat(), fc.integer({ min: 0, max: 255 }), (frame, at, value) => {
        const encoded = encodeFrame(frame);
        encoded[at % encoded.length] = value;
        try {
          decodeFrame(encoded);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 10_000 },
    );
  });

  it.each([
    ["empty", []],
    ["unknown type", [7]],
    ["unknown sync type", [0, 9, 0]],
    ["length past the end", [0, 2, 10, 1]],
    ["trailing bytes", [3, 3]],
    ["awareness state not JSON", [1, 5, 1, 1, 1, 1, 123]],
  ])("rejects %s with ProtocolError", (_name, input) => {
    expect(() => decodeFrame(new Uint8Array(input))).toThrow(ProtocolError);
  });
});
