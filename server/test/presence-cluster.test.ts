import {
  type AwarenessEntry,
  decodeAwarenessUpdate,
  decodeFrame,
  encodeAwarenessUpdate,
} from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { Presence } from "../src/presence.ts";
import type { Peer } from "../src/room.ts";
import { silentLogger } from "./helpers.ts";

// Presence in cluster mode, on its own: states relayed from other nodes,
// what goes out to them, and a node's departure.
const presences: Presence[] = [];
afterEach(() => {
  for (const presence of presences.splice(0)) presence.close();
});

function setup(options: { now?: () => number } = {}) {
  const broadcasts: AwarenessEntry[][] = [];
  const published: AwarenessEntry[][] = [];
  const presence = new Presence({
    doc: new Y.Doc(),
    docId: "d",
    logger: silentLogger,
    now: options.now ?? Date.now,
    maxStateBytes: 1024,
    broadcast: (frame) => {
      const decoded = decodeFrame(frame);
      if (decoded.type === "awareness") broadcasts.push(decodeAwarenessUpdate(decoded.update));
    },
    publish: (update) => published.push(decodeAwarenessUpdate(update)),
  });
  presences.push(presence);
  return { presence, broadcasts, published };
}

function peer(id: string): Peer {
  return {
    id,
    readOnly: false,
    send: () => {},
    close: () => {},
    probe: () => Promise.resolve(true),
  };
}

const entry = (clientId: number, clock: number, state: unknown): AwarenessEntry => ({
  clientId,
  clock,
  state: state as AwarenessEntry["state"],
  stateLength: 0,
});
const update = (...entries: AwarenessEntry[]) => encodeAwarenessUpdate(entries);
const ids = (entries: AwarenessEntry[][]) =>
  entries.flat().map((e) => [e.clientId, e.clock, e.state]);

describe("presence across nodes", () => {
  it("relays only what this node's peers change, their departures included", () => {
    const { presence, published, broadcasts } = setup();
    const alice = peer("alice");
    presence.apply(alice, update(entry(1, 1, { name: "Alice" })));
    presence.applyRemote("node-b", update(entry(2, 1, { name: "Bob" })));
    presence.flush();
    expect(ids(broadcasts)).toEqual([
      [1, 1, { name: "Alice" }],
      [2, 1, { name: "Bob" }],
    ]);
    expect(ids(published)).toEqual([[1, 1, { name: "Alice" }]]);
    published.length = 0;
    presence.removePeer(alice);
    presence.flush();
    expect(ids(published)).toEqual([[1, 1, null]]);
  });

  it("a local echo of another node's state does not claim it; the node's departure removes it", () => {
    const { presence, broadcasts, published } = setup();
    const carol = peer("carol");
    presence.applyRemote("node-b", update(entry(2, 3, { name: "Bob" })));
    // y-websocket clients send back every change they receive.
    presence.apply(carol, update(entry(2, 3, { name: "Bob" })));
    presence.flush();
    broadcasts.length = 0;
    presence.removeNode("node-b");
    presence.flush();
    // Same clock: the clients drop the state, and a reconnect of Bob's
    // client through another node (clock 4) is taken at once.
    expect(ids(broadcasts)).toEqual([[2, 3, null]]);
    expect(presence.size.states).toBe(0);
    expect(published).toEqual([]);
    presence.apply(carol, update(entry(2, 4, { name: "Bob again" })));
    expect(presence.size.states).toBe(1);
  });

  it("a client that moved here takes its id over from the node it left", () => {
    const { presence, broadcasts } = setup();
    const bob = peer("bob");
    presence.applyRemote("node-b", update(entry(2, 3, { name: "Bob" })));
    presence.apply(bob, update(entry(2, 4, { name: "Bob" })));
    // Node B's leftover state (or its departure) no longer touches it.
    presence.applyRemote("node-b", update(entry(2, 5, { name: "stale" })));
    presence.removeNode("node-b");
    presence.flush();
    expect(ids(broadcasts).at(-1)).toEqual([2, 4, { name: "Bob" }]);
    expect(presence.size.states).toBe(1);
  });

  it("forgets the clocks of other nodes' clients that left, as of its own", () => {
    let now = 0;
    const { presence } = setup({ now: () => now });
    for (let id = 1; id <= 3000; id++) {
      presence.applyRemote("node-b", update(entry(id, 1, { name: `c${id}` })));
      presence.applyRemote("node-b", update(entry(id, 1, null)));
      now += 100;
    }
    // Kept: the last 30 s of departures at most, and never over 1,024.
    expect(presence.size.states).toBe(0);
    expect(presence.size.clients).toBeLessThanOrEqual(301);
  });

  it("answers another node's query with this node's peers' states only", () => {
    const { presence } = setup();
    expect(presence.encodeLocalStates()).toBeNull();
    presence.apply(peer("alice"), update(entry(1, 1, { name: "Alice" })));
    presence.applyRemote("node-b", update(entry(2, 1, { name: "Bob" })));
    const local = presence.encodeLocalStates();
    expect(local && ids([decodeAwarenessUpdate(local)])).toEqual([[1, 1, { name: "Alice" }]]);
  });
});
