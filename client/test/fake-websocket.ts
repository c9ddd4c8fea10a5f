/** A scriptable stand-in for the browser WebSocket, one registry per test. */
import { decodeFrame, encodeFrame, type Frame } from "@cowrite/shared";
import type { WebSocketConstructor } from "../src/provider.ts";

export class FakeSocket {
  readyState = 0;
  binaryType = "blob";
  /** The subprotocol the server selected; set it before `open()`. */
  protocol = "";
  sent: Uint8Array[] = [];
  closedWith: { code: number; reason: string } | null = null;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[] = [],
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close(code = 1000, reason = ""): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  /** Server side: accept the connection. */
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  /** Server side: send a frame to the client. */
  receive(frame: Frame | Uint8Array): void {
    const bytes = frame instanceof Uint8Array ? frame : encodeFrame(frame);
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    this.onmessage?.(new MessageEvent("message", { data }));
  }

  /** Server side: close the connection. */
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.(new CloseEvent("close", { code, reason }));
  }

  /** Frames the client sent, decoded. */
  frames(): Frame[] {
    return this.sent.map((bytes) => decodeFrame(bytes));
  }

  takeFrames(): Frame[] {
    const frames = this.frames();
    this.sent = [];
    return frames;
  }
}

export function createFakeWebSockets(): { Impl: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  class Impl extends FakeSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  // The fake implements only what the provider touches.
  return { Impl: Impl as unknown as WebSocketConstructor, sockets };
}
