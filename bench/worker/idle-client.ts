/**
 * The lightest correct y-websocket peer, for thousands of idle connections:
 * no Y.Doc (the documents are empty). It sends a sync step 1 with an empty
 * state vector, answers the server's step 1 with an empty step 2 as real
 * clients do, and counts as connected once the server's step 2 arrives.
 */
import { decodeFrame, encodeFrame } from "@cowrite/shared";
import WebSocket from "ws";
import * as Y from "yjs";
import { closeSocket } from "./bench-client.ts";

const EMPTY_DOC = new Y.Doc();
const STEP_1 = encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(EMPTY_DOC) });
const STEP_2 = encodeFrame({ type: "sync-step-2", update: Y.encodeStateAsUpdate(EMPTY_DOC) });

export class IdleClient {
  readonly ws: WebSocket;

  private constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
  }

  /**
   * Opens a connection; resolves with it and the ms to the server's step 2.
   * A connection not synced within `timeoutMs` is cut and counts as failed.
   */
  static open(url: string, timeoutMs: number): Promise<{ client: IdleClient; ms: number }> {
    const started = performance.now();
    const client = new IdleClient(url);
    const { ws } = client;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`not synced within ${timeoutMs} ms`));
        ws.terminate();
      }, timeoutMs);
      ws.on("open", () => ws.send(STEP_1));
      ws.on("message", (data: Buffer) => {
        const frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (frame.type === "sync-step-1") ws.send(STEP_2);
        else if (frame.type === "sync-step-2") {
          clearTimeout(timer);
          resolve({ client, ms: performance.now() - started });
        }
      });
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      ws.once("error", fail);
      ws.once("close", (code) => fail(new Error(`closed before sync (code ${code})`)));
    });
  }

  close(): Promise<void> {
    return closeSocket(this.ws);
  }
}
