/**
 * Worker side of the presence scenario: D documents x C clients, each moving
 * its caret R times a second, that is publishing a new awareness state. The
 * state carries the worker's clock at publishing, so each receiver can time
 * it on the same clock. Receivers decode awareness messages by hand (count,
 * then id, clock and JSON state per client): cheap, so the load generator's
 * cost does not hide the server's.
 */
import { encodeFrame } from "@cowrite/shared";
import * as decoding from "lib0/decoding";
import { Awareness, encodeAwarenessUpdate } from "y-protocols/awareness";
import { runPool, sleep, withTimeout } from "../async.ts";
import type { FanoutConnectArgs, PresenceRunArgs, PresenceRunResult } from "../messages.ts";
import { BenchClient } from "./bench-client.ts";
import { getSession, putSession, type Session } from "./groups.ts";
import { runPeriodically } from "./periodic.ts";

interface Publisher {
  client: BenchClient;
  awareness: Awareness;
}

class PresenceSession implements Session {
  latencies: number[] = [];
  frames = 0;
  deliveries = 0;
  lastFrameAt = 0;

  constructor(readonly publishers: Publisher[]) {
    for (const { client, awareness } of publishers) {
      client.onAwareness = (update) => this.receive(awareness.clientID, update);
    }
  }

  async close(): Promise<number> {
    const open = this.publishers.filter((p) => !p.client.closed).length;
    for (const { awareness } of this.publishers) awareness.destroy();
    await Promise.all(this.publishers.map((p) => p.client.close()));
    return open;
  }

  private receive(self: number, update: Uint8Array): void {
    const now = performance.now();
    this.frames++;
    this.lastFrameAt = now;
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const id = decoding.readVarUint(decoder);
      decoding.readVarUint(decoder); // clock
      const json = decoding.readVarString(decoder);
      if (id === self || json === "null") continue;
      const state = JSON.parse(json) as { t?: number };
      if (typeof state.t !== "number") continue;
      this.deliveries++;
      this.latencies.push(now - state.t);
    }
  }
}

export async function connectPresence(args: FanoutConnectArgs): Promise<{ clients: number }> {
  const slots = args.docs.flatMap((doc) => Array.from({ length: doc.clients }, () => doc.url));
  const opened: BenchClient[] = [];
  let cancelled = false;
  try {
    await withTimeout(
      runPool(slots, args.connectConcurrency, async (url) => {
        if (cancelled) return;
        const client = new BenchClient(url);
        opened.push(client);
        await client.synced;
      }),
      args.timeoutMs,
      `sync of ${slots.length} presence clients`,
    );
  } catch (error) {
    cancelled = true;
    await Promise.all(opened.map((c) => c.close()));
    throw error;
  }
  const publishers = opened.map((client) => {
    const awareness = new Awareness(client.doc);
    // No state until the run publishes one (close() destroys the instance
    // and its renewal timer).
    awareness.setLocalState(null);
    return { client, awareness };
  });
  putSession(args.group, new PresenceSession(publishers));
  return { clients: opened.length };
}

export async function runPresence(args: PresenceRunArgs): Promise<PresenceRunResult> {
  const session = getSession(args.group, PresenceSession);
  session.latencies = [];
  session.frames = 0;
  session.deliveries = 0;
  const actions: Array<() => void> = [];
  let sent = 0;
  for (const [index, { client, awareness }] of session.publishers.entries()) {
    let caret = 0;
    const move = () => {
      if (client.closed) return;
      caret++;
      awareness.setLocalState({
        user: { name: `Writer ${index}`, color: "#3b82f6" },
        cursor: { anchor: caret, head: caret },
        t: performance.now(),
      });
      const update = encodeAwarenessUpdate(awareness, [awareness.clientID]);
      client.send(encodeFrame({ type: "awareness", update }));
      sent++;
    };
    actions.push(move);
  }
  const { windowMs, load } = await runPeriodically(actions, args.updatesPerSecond, args.durationMs);
  // Presence is last-writer-wins, so there is nothing to wait for but the
  // last batch: done once no presence message has arrived for quietMs.
  const deadline = performance.now() + 10 * args.quietMs;
  while (performance.now() - session.lastFrameAt < args.quietMs && performance.now() < deadline) {
    await sleep(args.quietMs / 4);
  }
  return {
    latencies: Float64Array.from(session.latencies),
    sent,
    frames: session.frames,
    deliveries: session.deliveries,
    disconnectedClients: session.publishers.filter((p) => p.client.closed).length,
    windowMs,
    load,
  };
}
