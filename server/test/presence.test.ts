import net from "node:net";
import {
  type AwarenessEntry,
  CLOSE_BAD_FRAME,
  decodeAwarenessUpdate,
  decodeFrame,
  encodeAwarenessUpdate,
  encodeFrame,
} from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import type * as Y from "yjs";
import { createTokenAuth, mintToken } from "../src/auth.ts";
import type { Room } from "../src/room.ts";
import { connectProvider, type Running, rawClient, startServer, whenSynced } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const running = await startServer(options);
  cleanups.push(() => running.stop());
  return running;
}

function provider(wsUrl: string, docId: string, doc?: Y.Doc) {
  const client = connectProvider(wsUrl, docId, doc);
  cleanups.push(() => client.provider.destroy());
  return client;
}

function client(url: string, options?: WebSocket.ClientOptions) {
  const c = rawClient(url, options);
  cleanups.push(() => c.ws.terminate());
  return c;
}

type Client = ReturnType<typeof connectProvider>;
type State = { name?: string } | undefined;

/** Resolves once `check` holds for the states `viewer` sees, re-checked on every change. */
function sees(viewer: Client, check: (states: Map<number, State>) => boolean): Promise<void> {
  const awareness = viewer.provider.awareness;
  return new Promise((resolve) => {
    const onChange = () => {
      if (!check(awareness.getStates() as Map<number, State>)) return;
      awareness.off("change", onChange);
      resolve();
    };
    awareness.on("change", onChange);
    onChange();
  });
}

const named = (subject: Client, name: string) => (states: Map<number, State>) =>
  states.get(subject.doc.clientID)?.name === name;
const absent = (subject: Client) => (states: Map<number, State>) =>
  !states.has(subject.doc.clientID);

/** Drops the client's socket without a goodbye: no null presence, no close frame. */
function dropSocket(subject: Client): void {
  subject.provider.shouldConnect = false;
  (subject.provider.ws as unknown as WebSocket).terminate();
}

/**
 * A raw connection publishing `victim`'s client id with a far newer clock
 * (and an id of its own, so the test knows when the server has handled it).
 */
async function forge(wsUrl: string, docId: string, victim: Client): Promise<void> {
  const attacker = client(`${wsUrl}/${docId}`);
  await attacker.next();
  const forged = encodeAwarenessUpdate([
    { clientId: victim.doc.clientID, clock: 999, state: { name: "Mallory" }, stateLength: 0 },
    { clientId: 77, clock: 1, state: { name: "attacker's own" }, stateLength: 0 },
  ]);
  attacker.ws.send(encodeFrame({ type: "awareness", update: forged }));
}

describe("presence ownership", () => {
  it("a stock client that reconnected keeps its presence id: another connection cannot overwrite it", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "own");
    const watcher = provider(wsUrl, "own");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    victim.provider.disconnect();
    await sees(watcher, absent(victim));
    victim.provider.connect();
    await whenSynced(victim.provider);
    // y-protocols reports this id as updated, not added: the server knows its clock.
    victim.provider.awareness.setLocalStateField("name", "Victim again");
    await sees(watcher, named(victim, "Victim again"));
    await forge(wsUrl, "own", victim);
    await sees(watcher, (states) => states.has(77));
    expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)).toEqual({
      name: "Victim again",
    });
  });

  it("a stock client's presence disappears for others when its reconnected socket drops", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "ghost");
    const watcher = provider(wsUrl, "ghost");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    victim.provider.disconnect();
    await sees(watcher, absent(victim));
    victim.provider.connect();
    await whenSynced(victim.provider);
    victim.provider.awareness.setLocalStateField("name", "Victim again");
    await sees(watcher, named(victim, "Victim again"));
    dropSocket(victim);
    await sees(watcher, absent(victim));
  });

  it("a client that clears its presence and publishes again still owns its id", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "clear");
    const watcher = provider(wsUrl, "clear");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalState({ name: "Victim" });
    await sees(watcher, named(victim, "Victim"));
    victim.provider.awareness.setLocalState(null);
    await sees(watcher, absent(victim));
    victim.provider.awareness.setLocalState({ name: "Back" });
    await sees(watcher, named(victim, "Back"));
    await forge(wsUrl, "clear", victim);
    await sees(watcher, (states) => states.has(77));
    expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)).toEqual({
      name: "Back",
    });
    dropSocket(victim);
    await sees(watcher, absent(victim));
  });
});

/**
 * A TCP proxy to `port` whose connections can be frozen: nothing more is
 * forwarded either way and nothing is closed, as when a laptop sleeps or
 * its network goes away (the server hears neither a close frame nor a FIN).
 */
async function freezableProxy(port: number) {
  const pairs: [net.Socket, net.Socket][] = [];
  const closedByServer: Promise<void>[] = [];
  const proxy = net.createServer((downstream) => {
    const upstream = net.connect(port, "127.0.0.1");
    for (const socket of [downstream, upstream]) socket.on("error", () => {});
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    pairs.push([downstream, upstream]);
    closedByServer.push(new Promise((resolve) => upstream.once("close", () => resolve())));
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const address = proxy.address() as net.AddressInfo;
  cleanups.push(() => {
    for (const pair of pairs) for (const socket of pair) socket.destroy();
    proxy.close();
  });
  return {
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    /** Freezes every connection made so far; later ones flow. */
    freeze() {
      for (const [downstream, upstream] of pairs) {
        downstream.unpipe(upstream);
        upstream.unpipe(downstream);
        downstream.pause();
        // Read and dropped, so that the server closing it is seen here.
        upstream.resume();
      }
    },
    /** Resolves when the server has closed the `index`th connection. */
    closedByServer: (index: number) => closedByServer[index],
  };
}

describe("presence after a reconnect from a dead socket", () => {
  it("a stock client's presence updates promptly after it reconnects from a socket that went silent", async () => {
    // Far longer than the test may take: the old socket is not found dead by the heartbeat.
    const running = await server({ heartbeatMs: 120_000 });
    const proxy = await freezableProxy(Number(new URL(running.url).port));
    const watcher = provider(running.wsUrl, "silent");
    const victim = provider(proxy.wsUrl, "silent");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    proxy.freeze();
    // The client gives up on its socket (its goodbye is lost) and reconnects,
    // with the same Y.Doc and awareness: the same client id.
    victim.provider.disconnect();
    victim.provider.connect();
    await whenSynced(victim.provider);
    const started = performance.now();
    victim.provider.awareness.setLocalStateField("name", "Victim, back");
    await sees(watcher, named(victim, "Victim, back"));
    expect(performance.now() - started).toBeLessThan(10_000);
    // The old connection, which did not answer, is gone too.
    await proxy.closedByServer(0);
    // The new connection owns the id now: its departure removes the presence.
    dropSocket(victim);
    await sees(watcher, absent(victim));
  });

  it("a live client keeps its id: the probe another connection's claim sets off is answered", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "alive");
    const watcher = provider(wsUrl, "alive");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    const socket = victim.provider.ws as unknown as WebSocket;
    const pinged = new Promise((resolve) => socket.once("ping", resolve));
    await forge(wsUrl, "alive", victim);
    await pinged;
    // ws answers the ping at once, so the server has the pong before this.
    victim.provider.awareness.setLocalStateField("name", "Victim, still");
    await sees(watcher, named(victim, "Victim, still"));
    expect(socket.readyState).toBe(socket.OPEN);
  });
});

describe("presence limits", () => {
  const SECRET = "test-secret-test-secret-test-secret-42";
  const readToken = (doc: string) =>
    mintToken({
      secret: SECRET,
      userId: "rita",
      name: "Rita",
      doc,
      permission: "read",
      expiresIn: 3600,
    });

  it("one read-only connection cannot grow the room's presence beyond its 8 ids, whatever it sends", async () => {
    let clock = 1_000_000;
    const running = await server({
      authorize: await createTokenAuth({ secret: SECRET }),
      now: () => clock,
    });
    const token = await readToken("flood");
    // Keeps the room open throughout, and sees what everyone else sees.
    const keeper = client(`${running.wsUrl}/flood?token=${token}`);
    await keeper.next();
    const c = client(`${running.wsUrl}/flood?token=${token}`);
    await c.next();
    const room = running.server.rooms.get("flood") as Room;
    const before = room.presence.size;
    const publish = (from: typeof c, entries: AwarenessEntry[]) =>
      from.ws.send(encodeFrame({ type: "awareness", update: encodeAwarenessUpdate(entries) }));
    const echoed = (from: typeof c, clientId: number, clock: number) =>
      from.next((bytes) => {
        const frame = decodeFrame(bytes);
        return (
          frame.type === "awareness" &&
          decodeAwarenessUpdate(frame.update).some(
            (entry) => entry.clientId === clientId && entry.clock === clock,
          )
        );
      });
    // The server handles a connection's messages in order and echoes presence
    // to its publisher: once this id's new clock comes back, all before it is handled.
    let marks = 0;
    const handled = async () => {
      marks++;
      publish(c, [{ clientId: 999, clock: marks, state: { marks }, stateLength: 0 }]);
      await echoed(c, 999, marks);
    };

    // Removals for 50,000 ids nobody has: nothing to remove, nothing to keep.
    for (let message = 0; message < 50; message++) {
      publish(
        c,
        Array.from({ length: 1000 }, (_, i) => ({
          clientId: 2_000_000 + message * 1000 + i,
          clock: 1 + ((message * 7919 + i) % 1000),
          state: null,
          stateLength: 4,
        })),
      );
    }
    await handled();
    expect(room.presence.size).toEqual({
      states: before.states + 1,
      clients: before.clients + 1,
    });

    // Seven more ids, cleared and published again, over and over.
    const ids = Array.from({ length: 7 }, (_, i) => 1000 + i);
    for (let round = 1; round <= 50; round++) {
      publish(
        c,
        ids.map((clientId) => ({ clientId, clock: 2 * round, state: null, stateLength: 4 })),
      );
      publish(
        c,
        ids.map((clientId) => ({ clientId, clock: 2 * round + 1, state: {}, stateLength: 2 })),
      );
    }
    await handled();
    expect(room.presence.size).toEqual({
      states: before.states + 8,
      clients: before.clients + 8,
    });

    // Seven cleared: the ids are still the connection's, so a 9th is one too many.
    publish(
      c,
      ids.map((clientId) => ({ clientId, clock: 1000, state: null, stateLength: 4 })),
    );
    publish(c, [{ clientId: 1007, clock: 1, state: {}, stateLength: 2 }]);
    expect(await c.closed).toEqual({
      code: CLOSE_BAD_FRAME,
      reason: "too many awareness client ids on one connection",
    });
    // The others see its last state go when the server lets go of the connection.
    await keeper.next((bytes) => {
      const frame = decodeFrame(bytes);
      return (
        frame.type === "awareness" &&
        decodeAwarenessUpdate(frame.update).some(
          (entry) => entry.clientId === 999 && entry.state === null,
        )
      );
    });
    expect(room.presence.size.states).toBe(before.states);
    // The removed ids' clocks are kept a while (so a late echo cannot bring
    // a removed caret back), then dropped.
    clock += 31_000;
    publish(keeper, [{ clientId: 5, clock: 1, state: {}, stateLength: 2 }]);
    await echoed(keeper, 5, 1);
    expect(room.presence.size).toEqual({
      states: before.states + 1,
      clients: before.clients + 1,
    });
  });
});
