import { decodeFrame, encodeAwarenessUpdate, type Frame, ProtocolError } from "@cowrite/shared";
import * as encoding from "lib0/encoding";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as awarenessProtocol from "y-protocols/awareness";
import * as Y from "yjs";
import type { Peer } from "../src/room.ts";
import { Room } from "../src/room.ts";
import { RoomRegistry } from "../src/rooms.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import { corruptedUpdate, gateAppends, seededRandom, silentLogger } from "./helpers.ts";

function fakePeer(id: string, readOnly = false) {
  const received: Frame[] = [];
  const peer: Peer & { received: Frame[] } = {
    id,
    readOnly,
    received,
    send: (bytes) => received.push(decodeFrame(bytes)),
    close: () => {},
    probe: async () => true,
  };
  return peer;
}

function edit(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText("t").insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

const options = (store: MemoryDocStore) => ({
  docId: "d",
  store,
  logger: silentLogger,
  now: () => 1,
  compactEvery: 100,
  maxRetryDelayMs: 1,
});

function registry(store: MemoryDocStore): RoomRegistry {
  return new RoomRegistry({
    open: (docId) => Room.load({ ...options(store), docId }),
    remove: (docId) => store.delete(docId),
  });
}

/** A loaded room with two peers whose welcome messages are already cleared. */
async function roomWithTwoPeers(store: MemoryDocStore) {
  const room = await Room.load(options(store));
  const a = fakePeer("a");
  const b = fakePeer("b");
  room.addPeer(a);
  room.addPeer(b);
  // Both answer the room's sync step 1, as clients do: they are in sync.
  const nothing = Y.encodeStateAsUpdate(new Y.Doc());
  await room.handle(a, { type: "sync-step-2", update: nothing });
  await room.handle(b, { type: "sync-step-2", update: nothing });
  a.received.length = 0;
  b.received.length = 0;
  return { room, a, b };
}

describe("Room", () => {
  it("broadcasts an update to the other peers only after the store accepted it", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    const { started, release } = gateAppends(store);
    const handled = room.handle(a, { type: "update", update: edit("hi") });
    await started;
    // The append is in flight. Broadcasts go out within the turn that queues
    // them: let two turns pass, so one queued too early would be out by now.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(b.received).toHaveLength(0);
    release();
    await handled;
    expect(b.received.map((f) => f.type)).toEqual(["update"]);
    expect(a.received).toHaveLength(0);
  });

  it("sends changes made durable together as one frame per peer, without a peer's own", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    const c = fakePeer("c");
    room.addPeer(c);
    c.received.length = 0;
    const { release } = gateAppends(store);
    const fromA = room.handle(a, { type: "update", update: edit("from a") });
    const fromB = room.handle(b, { type: "update", update: edit("from b") });
    release();
    await Promise.all([fromA, fromB]);
    const texts = (peer: { received: Frame[] }) =>
      peer.received.map((frame) => {
        if (frame.type !== "update") throw new Error(`unexpected ${frame.type}`);
        const doc = new Y.Doc();
        Y.applyUpdate(doc, frame.update);
        return doc.getText("t").toString();
      });
    // c gets both in one frame; a and b each get only the other's change.
    expect(c.received).toHaveLength(1);
    expect(texts(c)[0]).toContain("from a");
    expect(texts(c)[0]).toContain("from b");
    expect(texts(a)).toEqual(["from b"]);
    expect(texts(b)).toEqual(["from a"]);
  });

  it("encodes the whole document once for fresh peers, and again after it changes", async () => {
    const store = new MemoryDocStore();
    const { room, a } = await roomWithTwoPeers(store);
    const first = edit("first");
    await room.handle(a, { type: "update", update: first });
    const empty = Y.encodeStateVector(new Y.Doc());
    const fresh = () => {
      const peer = fakePeer("fresh");
      room.addPeer(peer);
      const sent: Uint8Array[] = [];
      peer.send = (bytes) => sent.push(bytes);
      void room.handle(peer, { type: "sync-step-1", stateVector: empty });
      return sent[0];
    };
    const one = fresh();
    expect(fresh()).toBe(one); // the very same bytes, not a second encoding
    // A joining client's (empty) step 2 changes nothing and keeps the cache.
    await room.handle(a, { type: "sync-step-2", update: Y.encodeStateAsUpdate(new Y.Doc()) });
    await room.handle(a, { type: "update", update: first }); // a duplicate: no change
    expect(fresh()).toBe(one);
    await room.handle(a, { type: "update", update: edit("second") });
    const after = fresh();
    expect(after).not.toBe(one);
    const frame = decodeFrame(after as Uint8Array);
    if (frame.type !== "sync-step-2") throw new Error(`unexpected ${frame.type}`);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, frame.update);
    expect(doc.getText("t").toString()).toContain("second");
  });

  it("refreshes the cached full state after an edit inside a paragraph deleted meanwhile", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    const alice = new Y.Doc();
    const bob = new Y.Doc();
    const sent = (doc: Y.Doc, edit: () => void) => {
      const updates: Uint8Array[] = [];
      const collect = (update: Uint8Array) => updates.push(update);
      doc.on("update", collect);
      edit();
      doc.off("update", collect);
      return Y.mergeUpdates(updates);
    };
    // A paragraph (a nested Y.Text) that Bob then deletes as a whole.
    const paragraph = new Y.Text();
    const typed = sent(alice, () => {
      alice.getArray("blocks").insert(0, [paragraph]);
      paragraph.insert(0, "abc");
    });
    await room.handle(a, { type: "update", update: typed });
    Y.applyUpdate(bob, typed);
    await room.handle(b, {
      type: "update",
      update: sent(bob, () => bob.getArray("blocks").delete(0, 1)),
    });
    const fresh = () => {
      const peer = fakePeer("fresh");
      room.addPeer(peer);
      peer.received.length = 0;
      void room.handle(peer, {
        type: "sync-step-1",
        stateVector: Y.encodeStateVector(new Y.Doc()),
      });
      const frame = peer.received[0];
      if (frame?.type !== "sync-step-2") throw new Error("no step 2");
      return Y.decodeStateVector(Y.encodeStateVectorFromUpdate(frame.update)).get(alice.clientID);
    };
    const before = fresh() ?? 0;
    // Alice, offline, types into the paragraph Bob deleted: on the server it
    // is collected, so no type changes, but Alice's clock moves on.
    await room.handle(a, {
      type: "update",
      update: sent(alice, () => paragraph.insert(2, "x")),
    });
    expect(fresh()).toBe(before + 1);
  });

  it("answers a fresh peer of a compacted document with the stored update itself", async () => {
    const store = new MemoryDocStore();
    // Bytes the server would not produce itself (its doc drops deleted text),
    // so an answer equal to them was not re-encoded.
    const writer = new Y.Doc({ gc: false });
    writer.getText("t").insert(0, "kept, deleted");
    writer.getText("t").delete(4, 9);
    const stored = Y.encodeStateAsUpdate(writer);
    await store.append("d", stored, { at: 1 });
    const room = await Room.load(options(store));
    const peer = fakePeer("fresh");
    room.addPeer(peer);
    peer.received.length = 0;
    await room.handle(peer, { type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) });
    expect(peer.received).toEqual([{ type: "sync-step-2", update: stored }]);

    // The peer edits on top of what it got; the room applies the stored
    // state first, so the edit's dependencies are there.
    const local = new Y.Doc();
    Y.applyUpdate(local, stored);
    const edits: Uint8Array[] = [];
    local.on("update", (update: Uint8Array) => edits.push(update));
    local.getText("t").insert(4, " and more");
    await room.handle(peer, { type: "update", update: edits[0] as Uint8Array });
    expect(room.doc.getText("t").toString()).toBe("kept and more");
  });

  it("retries a failed save, keeps the update unacknowledged and the room open", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    store.failWrites = new Error("disk full");
    let failures = 0;
    const append = store.append.bind(store);
    store.append = async (...args) => {
      try {
        return await append(...args);
      } catch (error) {
        failures++;
        // Heal the disk after three failures.
        if (failures === 3) store.failWrites = null;
        throw error;
      }
    };
    await room.handle(a, { type: "update", update: edit("precious") });
    expect(failures).toBe(3);
    expect(room.lastSaveError).toBeNull();
    expect(b.received.map((f) => f.type)).toEqual(["update"]);
    const doc = new Y.Doc();
    for (const update of await store.load("d")) Y.applyUpdate(doc, update);
    expect(doc.getText("t").toString()).toBe("precious");
  });

  it("drops updates from read-only peers", async () => {
    const store = new MemoryDocStore();
    const room = await Room.load(options(store));
    const viewer = fakePeer("v", true);
    room.addPeer(viewer);
    await room.handle(viewer, { type: "update", update: edit("nope") });
    await room.handle(viewer, { type: "sync-step-2", update: edit("nope") });
    expect(room.doc.getText("t").toString()).toBe("");
    expect(await store.load("d")).toEqual([]);
  });

  it("does not store duplicates of updates it already has", async () => {
    const store = new MemoryDocStore();
    const room = await Room.load(options(store));
    const a = fakePeer("a");
    room.addPeer(a);
    const update = edit("once");
    await room.handle(a, { type: "update", update });
    await room.handle(a, { type: "update", update });
    expect(await store.load("d")).toHaveLength(1);
  });

  it("refuses an update with missing dependencies whole: nothing of it is applied, stored or sent", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    // "def" builds on "abc", which the server never got.
    const other = new Y.Doc();
    const steps: Uint8Array[] = [];
    other.on("update", (update: Uint8Array) => steps.push(update));
    other.getText("t").insert(0, "abc");
    other.getText("t").insert(3, "def");
    const mixed = Y.mergeUpdates([edit("ok"), steps[1] as Uint8Array]);
    const before = Y.encodeStateVector(room.doc);
    expect(() => room.handle(a, { type: "update", update: mixed })).toThrow(/depends on changes/);
    expect(Y.encodeStateVector(room.doc)).toEqual(before);
    expect(room.doc.getText("t").toString()).toBe("");
    expect(room.doc.store.pendingStructs).toBeNull();
    // The next update is judged on its own.
    await room.handle(a, { type: "update", update: edit("next") });
    const seen = new Y.Doc();
    for (const frame of b.received) if (frame.type === "update") Y.applyUpdate(seen, frame.update);
    const stored = new Y.Doc();
    for (const update of await store.load("d")) Y.applyUpdate(stored, update);
    for (const doc of [seen, stored, room.doc]) expect(doc.getText("t").toString()).toBe("next");
  });

  it("an edit typed right after a reconnect waits for the offline edits it builds on, in the sender's step 2", async () => {
    const store = new MemoryDocStore();
    const { room, b } = await roomWithTwoPeers(store);
    const returning = fakePeer("returning");
    room.addPeer(returning);
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "typed offline. ");
    writer.getText("t").insert(15, "typed while reconnecting");
    const [offline, live] = steps as [Uint8Array, Uint8Array];
    // The live edit goes out as soon as the socket opens; the offline one
    // only in answer to the room's step 1.
    expect(room.handle(returning, { type: "update", update: live })).toBeUndefined();
    await room.handle(returning, { type: "sync-step-2", update: offline });
    const seen = new Y.Doc();
    for (const frame of b.received) if (frame.type === "update") Y.applyUpdate(seen, frame.update);
    const stored = new Y.Doc();
    for (const update of await store.load("d")) Y.applyUpdate(stored, update);
    for (const doc of [room.doc, seen, stored]) {
      expect(doc.getText("t").toString()).toBe("typed offline. typed while reconnecting");
    }
  });

  it("a step 1 sent while updates are held is answered only once they are applied and durable", async () => {
    const store = new MemoryDocStore();
    const { room } = await roomWithTwoPeers(store);
    const returning = fakePeer("returning");
    room.addPeer(returning);
    returning.received.length = 0;
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "offline ");
    writer.getText("t").insert(8, "live");
    const [offline, live] = steps as [Uint8Array, Uint8Array];
    await room.handle(returning, { type: "update", update: live });
    // The client's "is it saved?" probe, before its step 2 went out.
    await room.handle(returning, {
      type: "sync-step-1",
      stateVector: Y.encodeStateVector(writer),
    });
    expect(returning.received.filter((frame) => frame.type === "sync-step-2")).toEqual([]);
    await room.handle(returning, { type: "sync-step-2", update: offline });
    expect(returning.received.filter((frame) => frame.type === "sync-step-2")).toHaveLength(1);
    const stored = new Y.Doc();
    for (const update of await store.load("d")) Y.applyUpdate(stored, update);
    expect(stored.getText("t").toString()).toBe("offline live");
  });

  it("refuses a held update that still misses changes after the sender's step 2, and bounds what it holds", async () => {
    const store = new MemoryDocStore();
    const { room } = await roomWithTwoPeers(store);
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "never sent");
    writer.getText("t").insert(0, "builds on it");
    const orphan = steps[1] as Uint8Array;
    const c = fakePeer("c");
    room.addPeer(c);
    await room.handle(c, { type: "update", update: orphan });
    const nothing = Y.encodeStateAsUpdate(new Y.Doc());
    expect(() => room.handle(c, { type: "sync-step-2", update: nothing })).toThrow(
      /depends on changes/,
    );
    expect(room.doc.getText("t").toString()).toBe("");
    const d = fakePeer("d");
    room.addPeer(d);
    for (let i = 0; i < 256; i++) await room.handle(d, { type: "update", update: orphan });
    expect(() => room.handle(d, { type: "update", update: orphan })).toThrow(/too many messages/);
  });

  it("refuses 1,000 corrupted updates whole: text and state vector stay byte-identical", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    await room.handle(a, { type: "update", update: edit("the base text, before any attack") });
    const base = Y.encodeStateAsUpdate(room.doc);
    const before = { text: room.doc.getText("t").toString(), sv: Y.encodeStateVector(room.doc) };
    const stored = (await store.load("d")).length;
    b.received.length = 0;
    const random = seededRandom(12);
    for (let i = 0; i < 1000; i++) {
      const update = corruptedUpdate(base, random);
      expect(() => room.handle(a, { type: "update", update }), `mutation ${i}`).toThrow(
        ProtocolError,
      );
      expect(room.doc.getText("t").toString(), `mutation ${i}`).toBe(before.text);
      expect(Y.encodeStateVector(room.doc), `mutation ${i}`).toEqual(before.sv);
    }
    expect(room.refusal).toBeNull();
    expect(b.received).toEqual([]);
    expect((await store.load("d")).length).toBe(stored);
  });

  it("a room whose stored log holds a deletion still waiting for its insert keeps accepting edits", async () => {
    const store = new MemoryDocStore();
    // A deletion of two characters of client 99, which never arrived.
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0); // no structs
    encoding.writeVarUint(encoder, 1); // one client in the delete set
    encoding.writeVarUint(encoder, 99);
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint(encoder, 2);
    await store.append("d", encoding.toUint8Array(encoder), { at: 1 });
    await store.append("d", edit("stored"), { at: 1 });
    const { room, a, b } = await roomWithTwoPeers(store);
    const closes: number[] = [];
    b.close = (code: number) => closes.push(code);
    expect(room.doc.store.pendingDs).not.toBeNull();
    const writer = new Y.Doc();
    Y.applyUpdate(writer, Y.encodeStateAsUpdate(room.doc));
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "new ");
    await room.handle(a, { type: "update", update: steps[0] as Uint8Array });
    expect(room.refusal).toBeNull();
    expect(closes).toEqual([]);
    expect(room.doc.getText("t").toString()).toBe("new stored");
  });

  it("refuses items of two clients placed next to each other in a circle, without disturbing anyone", async () => {
    const store = new MemoryDocStore();
    const closes: number[] = [];
    const { room, a } = await roomWithTwoPeers(store);
    const b = { ...fakePeer("b"), close: (code: number) => closes.push(code) };
    room.addPeer(b);
    // Client 2's "x" goes after client 1's, and client 1's after client 2's.
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 2);
    for (const [client, other] of [
      [2, 1],
      [1, 2],
    ] as const) {
      encoding.writeVarUint(encoder, 1);
      encoding.writeVarUint(encoder, client);
      encoding.writeVarUint(encoder, 0);
      encoding.writeUint8(encoder, 4 | 0x80); // a string, with an origin
      encoding.writeVarUint(encoder, other);
      encoding.writeVarUint(encoder, 0);
      encoding.writeVarString(encoder, "x");
    }
    encoding.writeVarUint(encoder, 0);
    const update = encoding.toUint8Array(encoder);
    expect(() => room.handle(a, { type: "update", update })).toThrow(/depends on changes/);
    expect(room.refusal).toBeNull();
    expect(closes).toEqual([]);
    expect(room.doc.store.pendingStructs).toBeNull();
  });

  it("an update that passes the check yet fails inside Yjs sends everyone to a reloaded copy", async () => {
    const store = new MemoryDocStore();
    const rooms = registry(store);
    const room = await rooms.acquire("d");
    const closes: { code: number; reason: string }[] = [];
    const a = fakePeer("a");
    const b = {
      ...fakePeer("b"),
      close: (code: number, reason: string) => closes.push({ code, reason }),
    };
    room.addPeer(a);
    room.addPeer(b);
    await room.handle(a, { type: "update", update: edit("kept") });
    // Two sections for one writer, back to back: the check reads one run of
    // text, Yjs keeps only the second section, which then misses the first.
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "abc");
    writer.getText("t").insert(3, "def");
    const [first, second] = steps as [Uint8Array, Uint8Array];
    const forged = new Uint8Array([2, ...first.slice(1, -1), ...second.slice(1, -1), 0]);
    b.received.length = 0;
    expect(() => room.handle(a, { type: "update", update: forged })).toThrow(ProtocolError);
    expect(closes).toEqual([{ code: 1013, reason: "document is reloading; reconnect" }]);
    expect(room.refusal?.code).toBe(1013);
    expect(b.received).toEqual([]);
    room.removePeer(a);
    room.removePeer(b);
    await rooms.release("d");
    const reloaded = await rooms.acquire("d");
    expect(reloaded).not.toBe(room);
    expect(reloaded.refusal).toBeNull();
    expect(reloaded.doc.getText("t").toString()).toBe("kept");
    expect(reloaded.doc.store.pendingStructs).toBeNull();
    await rooms.release("d");
  });

  it("a document deleted under an open room: the next edit is neither stored nor sent, and peers get 4404", async () => {
    const store = new MemoryDocStore();
    const room = await Room.load(options(store));
    const closes: number[] = [];
    const a = { ...fakePeer("a"), close: (code: number) => closes.push(code) };
    const b = { ...fakePeer("b"), close: (code: number) => closes.push(code) };
    room.addPeer(a);
    room.addPeer(b);
    b.received.length = 0;
    await store.delete("d");
    await room.handle(a, { type: "update", update: edit("too late") });
    expect(closes).toEqual([4404, 4404]);
    expect(room.refusal?.code).toBe(4404);
    expect(b.received).toEqual([]);
    expect(await store.get("d")).toBeNull();
    await room.close();
    expect(await store.load("d")).toEqual([]);
  });

  it("saves that fail together all land before a later save does", async () => {
    const store = new MemoryDocStore();
    const { room, a } = await roomWithTwoPeers(store);
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "one ");
    writer.getText("t").insert(4, "two ");
    writer.getText("t").insert(8, "three");
    const [one, two, three] = steps as [Uint8Array, Uint8Array, Uint8Array];
    // One and two fail together; one's retry succeeds, two keeps failing
    // until three has been handed to the room.
    const append = store.append.bind(store);
    const texts: string[] = [];
    let calls = 0;
    let twoFails = true;
    store.append = async (docId, update, info) => {
      calls++;
      const text = Y.decodeUpdate(update)
        .structs.map((struct) => (struct as Y.Item).content.getContent().join(""))
        .join("");
      if (calls <= 2 || (twoFails && text === "two ")) throw new Error("busy");
      texts.push(text);
      return append(docId, update, info);
    };
    const saves = [
      room.handle(a, { type: "update", update: one }),
      room.handle(a, { type: "update", update: two }),
    ];
    await vi.waitFor(() => expect(texts).toContain("one "));
    saves.push(room.handle(a, { type: "update", update: three }));
    const callsThen = calls;
    await vi.waitFor(() => expect(calls).toBeGreaterThan(callsThen + 1));
    twoFails = false;
    await Promise.all(saves);
    expect(texts.indexOf("two ")).toBeLessThan(texts.indexOf("three"));
  });

  it("deleting a document whose saves keep failing finishes, and nothing of it is written afterwards", async () => {
    const store = new MemoryDocStore();
    const { room, a } = await roomWithTwoPeers(store);
    store.failWrites = new Error("disk on fire");
    const saving = room.handle(a, { type: "update", update: edit("doomed") });
    await room.markDeleted();
    await saving;
    store.failWrites = null;
    await room.close();
    expect(await store.load("d")).toEqual([]);
  });

  it("while a save keeps failing, later saves wait for it: the store never holds a change without the one it builds on", async () => {
    const store = new MemoryDocStore();
    const { room, a } = await roomWithTwoPeers(store);
    const writer = new Y.Doc();
    const steps: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => steps.push(update));
    writer.getText("t").insert(0, "first ");
    writer.getText("t").insert(6, "second");
    const [first, second] = steps as [Uint8Array, Uint8Array];
    store.failWrites = new Error("busy");
    const firstSaved = room.handle(a, { type: "update", update: first });
    // The first save has failed and waits to retry; then the second arrives.
    await vi.waitFor(() => expect(room.lastSaveError).not.toBeNull());
    store.failWrites = null;
    const secondSaved = room.handle(a, { type: "update", update: second });
    await Promise.all([firstSaved, secondSaved]);
    const stored = await store.load("d");
    const replay = new Y.Doc();
    Y.applyUpdate(replay, stored[0] as Uint8Array);
    expect(replay.getText("t").toString()).toBe("first ");
    expect(replay.store.pendingStructs).toBeNull();
  });

  it("keeps the stored title in step with the shared title text", async () => {
    const store = new MemoryDocStore();
    const room = await Room.load(options(store));
    const a = fakePeer("a");
    room.addPeer(a);
    const doc = new Y.Doc();
    doc.getText("title").insert(0, "  Minutes  ");
    await room.handle(a, { type: "update", update: Y.encodeStateAsUpdate(doc) });
    expect((await store.get("d"))?.title).toBe("Minutes");
  });
});

describe("Room presence", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** An awareness update from a client of its own, with `state` as its presence. */
  function presence(state: Record<string, unknown>): { id: number; update: Uint8Array } {
    const awareness = new awarenessProtocol.Awareness(new Y.Doc());
    awareness.setLocalState(state);
    const id = awareness.clientID;
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [id]);
    awareness.destroy();
    return { id, update };
  }

  function presenceFrames(peer: { received: Frame[] }): Uint8Array[] {
    return peer.received.flatMap((frame) => (frame.type === "awareness" ? [frame.update] : []));
  }

  /** Applies every presence message `peer` got to `seen`, as a client would. */
  function applyPresence(seen: awarenessProtocol.Awareness, peer: { received: Frame[] }): void {
    for (const update of presenceFrames(peer)) {
      awarenessProtocol.applyAwarenessUpdate(seen, update, "server");
    }
  }

  it("sends the presence changes of one window together, one message per peer", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    const watcher = fakePeer("watcher");
    room.addPeer(watcher);
    watcher.received.length = 0;
    vi.useFakeTimers();
    const fromA = presence({ name: "Ada" });
    const fromB = presence({ name: "Bo" });
    await room.handle(a, { type: "awareness", update: fromA.update });
    await room.handle(b, { type: "awareness", update: fromB.update });
    await room.handle(a, { type: "awareness", update: presence({ name: "Ada" }).update });
    expect(presenceFrames(watcher)).toHaveLength(0);
    vi.advanceTimersByTime(25);
    expect(presenceFrames(watcher)).toHaveLength(1);
    // Applied to a fresh awareness, the one message holds every client's state.
    const seen = new awarenessProtocol.Awareness(new Y.Doc());
    applyPresence(seen, watcher);
    expect(seen.getStates().get(fromA.id)).toEqual({ name: "Ada" });
    expect(seen.getStates().get(fromB.id)).toEqual({ name: "Bo" });
    // The publishers get it too (their keep-alive), also once each.
    expect(presenceFrames(a)).toHaveLength(1);
    expect(presenceFrames(b)).toHaveLength(1);
    seen.destroy();
    await room.close();
  });

  it("sends nothing once the room is closed with a batch pending", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    vi.useFakeTimers();
    await room.handle(a, { type: "awareness", update: presence({ name: "Ada" }).update });
    await room.close();
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    expect(presenceFrames(b)).toHaveLength(0);
  });

  it("a client that leaves and comes back within one window ends up present", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    vi.useFakeTimers();
    const awareness = new awarenessProtocol.Awareness(new Y.Doc());
    const encode = () => awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID]);
    awareness.setLocalState({ name: "Ada" });
    await room.handle(a, { type: "awareness", update: encode() });
    awareness.setLocalState(null);
    await room.handle(a, { type: "awareness", update: encode() });
    awareness.setLocalState({ name: "Ada again" });
    await room.handle(a, { type: "awareness", update: encode() });
    vi.advanceTimersByTime(25);
    expect(presenceFrames(b)).toHaveLength(1);
    const seen = new awarenessProtocol.Awareness(new Y.Doc());
    applyPresence(seen, b);
    expect(seen.getStates().get(awareness.clientID)).toEqual({ name: "Ada again" });
    seen.destroy();
    awareness.destroy();
    await room.close();
  });

  it("announces a departed client's presence as removed", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    vi.useFakeTimers();
    const fromA = presence({ name: "Ada" });
    await room.handle(a, { type: "awareness", update: fromA.update });
    vi.advanceTimersByTime(25);
    const seen = new awarenessProtocol.Awareness(new Y.Doc());
    applyPresence(seen, b);
    expect(seen.getStates().has(fromA.id)).toBe(true);
    b.received.length = 0;
    room.removePeer(a);
    vi.advanceTimersByTime(25);
    applyPresence(seen, b);
    expect(seen.getStates().has(fromA.id)).toBe(false);
    seen.destroy();
    await room.close();
  });
});

describe("Room presence ownership", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const state = (clock: number, name: string) =>
    encodeAwarenessUpdate([{ clientId: 42, clock, state: { name }, stateLength: 0 }]);

  /** The state of client 42 that `peer` was sent last, as a client would see it. */
  function seenBy(peer: { received: Frame[] }): unknown {
    const seen = new awarenessProtocol.Awareness(new Y.Doc());
    for (const frame of peer.received) {
      if (frame.type === "awareness")
        awarenessProtocol.applyAwarenessUpdate(seen, frame.update, "server");
    }
    const result = seen.getStates().get(42);
    seen.destroy();
    return result;
  }

  it("a newer state for another connection's id takes it over only if the owner does not answer a probe", async () => {
    const store = new MemoryDocStore();
    const { room, a, b } = await roomWithTwoPeers(store);
    const watcher = fakePeer("watcher");
    room.addPeer(watcher);
    const probes: ((alive: boolean) => void)[] = [];
    a.probe = () => new Promise((resolve) => probes.push(resolve));
    vi.useFakeTimers();
    await room.handle(a, { type: "awareness", update: state(1, "Victim") });
    await room.handle(b, { type: "awareness", update: state(5, "Mallory") });
    expect(probes).toHaveLength(1);
    probes[0]?.(true);
    await vi.advanceTimersByTimeAsync(25);
    expect(seenBy(watcher)).toEqual({ name: "Victim" });
    // The live owner still publishes; the next claim probes again.
    await room.handle(a, { type: "awareness", update: state(2, "Victim, moving") });
    await room.handle(b, { type: "awareness", update: state(6, "Back") });
    expect(probes).toHaveLength(2);
    probes[1]?.(false);
    await vi.advanceTimersByTimeAsync(25);
    expect(seenBy(watcher)).toEqual({ name: "Back" });
    // The id is b's now: a leaving leaves it, b leaving removes it.
    room.removePeer(a);
    await vi.advanceTimersByTimeAsync(25);
    expect(seenBy(watcher)).toEqual({ name: "Back" });
    room.removePeer(b);
    await vi.advanceTimersByTimeAsync(25);
    expect(seenBy(watcher)).toBeUndefined();
    await room.close();
  });

  it("keeps the clocks of at most 1024 departed client ids", async () => {
    const store = new MemoryDocStore();
    const room = await Room.load(options(store));
    const before = room.presence.size;
    for (let i = 0; i < 1100; i++) {
      const peer = fakePeer(`p${i}`);
      room.addPeer(peer);
      const update = encodeAwarenessUpdate([
        { clientId: 1000 + i, clock: 1, state: {}, stateLength: 2 },
      ]);
      await room.handle(peer, { type: "awareness", update });
      room.removePeer(peer);
    }
    expect(room.presence.size).toEqual({ states: 0, clients: before.clients + 1024 });
    await room.close();
  });
});

describe("RoomRegistry", () => {
  it("shares one load among concurrent acquires and closes after the last release", async () => {
    const store = new MemoryDocStore();
    let loads = 0;
    const rooms = new RoomRegistry({
      remove: (docId) => store.delete(docId),
      open: (docId) => {
        loads++;
        return Room.load({ ...options(store), docId });
      },
    });
    const [r1, r2, r3] = await Promise.all([
      rooms.acquire("x"),
      rooms.acquire("x"),
      rooms.acquire("x"),
    ]);
    expect(loads).toBe(1);
    expect(r1).toBe(r2);
    expect(r2).toBe(r3);
    await rooms.release("x");
    await rooms.release("x");
    expect(rooms.get("x")).toBe(r1);
    await rooms.release("x");
    expect(rooms.size).toBe(0);
  });

  it("an acquire during closing waits and gets a freshly loaded room", async () => {
    const store = new MemoryDocStore();
    const rooms = registry(store);
    const first = await rooms.acquire("x");
    const closing = rooms.release("x");
    const second = await rooms.acquire("x");
    await closing;
    expect(second).not.toBe(first);
    expect(rooms.get("x")).toBe(second);
  });

  it("forgets a room whose load failed so the next acquire retries", async () => {
    let attempt = 0;
    const store = new MemoryDocStore();
    const rooms = new RoomRegistry({
      remove: (docId) => store.delete(docId),
      open: async (docId) => {
        attempt++;
        if (attempt === 1) throw new Error("storage down");
        return Room.load({ ...options(store), docId });
      },
    });
    await expect(rooms.acquire("x")).rejects.toThrow("storage down");
    expect(rooms.size).toBe(0);
    await expect(rooms.acquire("x")).resolves.toBeDefined();
  });
});
