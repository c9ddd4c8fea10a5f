/**
 * Worker side of the big-document scenario: push the cached update as one
 * frame, then open fresh receivers and time them. Verification happens in a
 * separate task, after every worker has reported receipt, so one receiver's
 * apply never delays another's receipt.
 */
import { readFileSync } from "node:fs";
import { encodeFrame } from "@cowrite/shared";
import * as Y from "yjs";
import { withTimeout } from "../async.ts";
import type {
  BigDocPushArgs,
  BigDocReceiveArgs,
  BigDocReceiveResult,
  BigDocVerifyArgs,
} from "../messages.ts";
import { LoadMonitor } from "../stats.ts";
import { BenchClient } from "./bench-client.ts";
import { BulkReceiver } from "./bulk-receiver.ts";
import { getSession, putSession, type Session } from "./groups.ts";

class WriterSession implements Session {
  constructor(readonly writer: BenchClient) {}

  async close(): Promise<number> {
    const open = this.writer.closed ? 0 : 1;
    await this.writer.close();
    return open;
  }
}

class ReceiverSession implements Session {
  constructor(readonly receivers: BulkReceiver[]) {}

  async close(): Promise<number> {
    await Promise.all(this.receivers.map((r) => r.close()));
    return this.receivers.length;
  }
}

/**
 * Sends the update as one frame (without applying it locally: that would
 * cost the load generator seconds), then waits for the answer to a sync
 * step 1 carrying the update's state vector. Both servers answer in order,
 * so that answer means the update was handled (Cowrite: durable); and the
 * state vector keeps the answer small.
 */
export async function pushBigDoc(args: BigDocPushArgs): Promise<{ pushMs: number }> {
  const update = new Uint8Array(readFileSync(args.updateFile));
  const writer = new BenchClient(args.url, { applyRemoteUpdates: false });
  putSession(args.group, new WriterSession(writer));
  await withTimeout(writer.synced, args.timeoutMs, "writer sync");
  const started = performance.now();
  writer.send(encodeFrame({ type: "update", update }));
  await withTimeout(
    writer.roundTrip(Y.encodeStateVectorFromUpdate(update)),
    args.timeoutMs,
    "big update acknowledgement",
  );
  return { pushMs: performance.now() - started };
}

export async function receiveBigDoc(args: BigDocReceiveArgs): Promise<BigDocReceiveResult> {
  const monitor = new LoadMonitor();
  monitor.start();
  const receivers = Array.from(
    { length: args.clients },
    () => new BulkReceiver(args.url, args.expectedBytes),
  );
  putSession(args.group, new ReceiverSession(receivers));
  const receivedMs = await withTimeout(
    Promise.all(receivers.map((r) => r.received())),
    args.timeoutMs,
    `receipt by ${args.clients} clients`,
  );
  let appliedMs: number[] | null = null;
  if (args.applyOnReceipt) {
    appliedMs = receivers.map((r) => {
      r.apply();
      return performance.now() - r.startedAt;
    });
  }
  return { receivedMs, appliedMs, load: monitor.stop() };
}

/**
 * Checks each receiver got the whole document: same state vector as the
 * pushed update (no deletions, so that fixes the content), and for a single
 * receiver also the applied text's length.
 */
export function verifyBigDoc(args: BigDocVerifyArgs): { mismatches: string[] } {
  const { receivers } = getSession(args.group, ReceiverSession);
  const expected = Y.decodeStateVector(args.expectedStateVector);
  const mismatches: string[] = [];
  receivers.forEach((receiver, index) => {
    if (!sameStateVector(expected, Y.decodeStateVector(receiver.stateVector()))) {
      mismatches.push(`receiver ${index}: state vector differs from the pushed update's`);
      return;
    }
    if (receivers.length === 1) {
      const length = receiver.apply().getText("text").length;
      if (length !== args.expectedLength) {
        mismatches.push(
          `receiver ${index}: text length ${length}, expected ${args.expectedLength}`,
        );
      }
    }
  });
  return { mismatches };
}

function sameStateVector(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [client, clock] of a) if (b.get(client) !== clock) return false;
  return true;
}
