/**
 * A fresh client that receives one big document. It keeps the update
 * payloads it gets (sync step 2 and live updates: the reference sends a cold
 * document's content as an update after an empty step 2) and notes when
 * their bytes reach the expected size. Applying is separate, so that several
 * receivers in one process do not delay each other's receipt by applying.
 */
import { decodeFrame, encodeFrame } from "@cowrite/shared";
import WebSocket from "ws";
import * as Y from "yjs";
import { signal } from "../async.ts";
import { closeSocket } from "./bench-client.ts";

const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc());

export class BulkReceiver {
  readonly ws: WebSocket;
  readonly payloads: Uint8Array[] = [];
  readonly startedAt = performance.now();
  receivedAt: number | null = null;
  private bytes = 0;
  private doc: Y.Doc | null = null;
  private readonly done = signal();
  private failure: Error | null = null;

  constructor(
    url: string,
    private readonly expectedBytes: number,
  ) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 2 ** 20 });
    this.ws.on("open", () =>
      this.ws.send(encodeFrame({ type: "sync-step-1", stateVector: EMPTY_STATE_VECTOR })),
    );
    this.ws.on("message", (data: Buffer) => this.onMessage(data));
    this.ws.on("error", (error) => this.fail(error));
    this.ws.on("close", (code) => this.fail(new Error(`closed before receipt (code ${code})`)));
  }

  /** Resolves when the expected bytes have arrived; rejects if the socket fails first. */
  async received(): Promise<number> {
    await this.done.promise;
    if (this.failure) throw this.failure;
    return (this.receivedAt ?? Number.NaN) - this.startedAt;
  }

  /** Applies everything received, in order, to a Y.Doc (once; later calls return it). */
  apply(): Y.Doc {
    if (this.doc) return this.doc;
    const doc = new Y.Doc();
    for (const payload of this.payloads) Y.applyUpdate(doc, payload);
    this.doc = doc;
    return doc;
  }

  /** State vector of everything received, without integrating it into a doc. */
  stateVector(): Uint8Array {
    const merged =
      this.payloads.length === 1 ? (this.payloads[0] as Uint8Array) : Y.mergeUpdates(this.payloads);
    return Y.encodeStateVectorFromUpdate(merged);
  }

  close(): Promise<void> {
    return closeSocket(this.ws);
  }

  private onMessage(data: Buffer): void {
    const frame = decodeFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (frame.type === "sync-step-1") {
      // Answer as a real client would: we have nothing to add.
      this.ws.send(
        encodeFrame({ type: "sync-step-2", update: Y.encodeStateAsUpdate(new Y.Doc()) }),
      );
      return;
    }
    if (frame.type !== "sync-step-2" && frame.type !== "update") return;
    this.payloads.push(frame.update);
    this.bytes += frame.update.byteLength;
    if (this.receivedAt === null && this.bytes >= this.expectedBytes) {
      this.receivedAt = performance.now();
      this.done.resolve();
    }
  }

  private fail(error: Error): void {
    if (this.receivedAt !== null) return;
    this.failure ??= error;
    this.done.resolve();
  }
}
