/**
 * MuxSocket's failure paths that a real server cannot be made to take:
 * an admission or a Connection start that throws ends only that channel.
 */
import { EventEmitter } from "node:events";
import { CLOSE_INTERNAL_ERROR, decodeMuxMessage, encodeMuxMessage } from "@cowrite/shared";
import { describe, expect, it } from "vitest";
import type { Access } from "../src/auth.ts";
import type { PeerSocket } from "../src/connection.ts";
import { MuxSocket } from "../src/mux-socket.ts";
import { silentLogger } from "./helpers.ts";

/** A socket that records what the server sends. */
class RecordingSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  private readonly waiting: ((bytes: Uint8Array) => void)[] = [];
  send(bytes: Uint8Array): void {
    this.waiting.shift()?.(bytes);
  }
  close(): void {
    this.readyState = 3;
  }
  terminate(): void {
    this.readyState = 3;
  }
  ping(): void {}
  /** The client sends a mux message. */
  receive(message: Parameters<typeof encodeMuxMessage>[0]): void {
    this.emit("message", Buffer.from(encodeMuxMessage(message)), true);
  }
  /** Resolves with the next message the server sends. */
  nextSent(): Promise<ReturnType<typeof decodeMuxMessage>> {
    return new Promise((resolve) => {
      this.waiting.push((bytes) => resolve(decodeMuxMessage(bytes)));
    });
  }
}

function muxWith(options: {
  admit: ConstructorParameters<typeof MuxSocket>[0]["admit"];
  start?: ConstructorParameters<typeof MuxSocket>[0]["start"];
}) {
  const ws = new RecordingSocket();
  const mux = new MuxSocket({
    ws: ws as unknown as PeerSocket,
    logger: silentLogger,
    maxChannels: 8,
    maxPendingFrames: 10,
    maxPendingBytes: 1024,
    admit: options.admit,
    start: options.start ?? (() => {}),
  });
  return { ws, mux };
}

const access: Access = { user: null, permission: "write", docPattern: "*", expiresAt: null };

describe("MuxSocket", () => {
  it("a failing admission ends that channel with 1011; the socket and others stay", async () => {
    const { ws, mux } = muxWith({
      admit: async (docId) => {
        if (docId === "broken") throw new Error("bug");
        return { docId, access };
      },
    });
    const closed = ws.nextSent();
    ws.receive({ type: "open", channel: 1, docId: "broken", token: "" });
    expect(await closed).toMatchObject({ type: "close", channel: 1, code: CLOSE_INTERNAL_ERROR });
    ws.receive({ type: "open", channel: 2, docId: "fine", token: "" });
    expect(ws.readyState).toBe(1);
    expect(mux.channelCount).toBe(1);
  });

  it("a Connection that fails to start ends that channel with 1011", async () => {
    const { ws, mux } = muxWith({
      admit: async (docId) => ({ docId, access }),
      start: () => {
        throw new Error("bug");
      },
    });
    const closed = ws.nextSent();
    ws.receive({ type: "open", channel: 3, docId: "doc", token: "" });
    expect(await closed).toMatchObject({ type: "close", channel: 3, code: CLOSE_INTERNAL_ERROR });
    expect(mux.channelCount).toBe(0);
  });
});
