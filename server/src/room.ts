/**
 * One open document: its Y.Doc and the peers connected to it. The room
 * coordinates; presence (presence.ts) and saves (room-saves.ts) are its parts.
 *
 * Contract:
 * - A room is built only from fully loaded storage (`Room.load`), so no peer
 *   is answered before the stored state is in memory.
 * - An update from a peer is applied at once (bad updates throw
 *   ProtocolError synchronously), then appended to the store, and only after
 *   the store confirms it durable is it broadcast to the other peers. `handle`
 *   returns a promise for that moment; a connection answers its client's
 *   later sync step 1 only after such promises settle ("saved" semantics).
 * - Changes that become durable in the same turn of the event loop (one
 *   group commit) go out together: one frame per peer, not one per change.
 * - A failed save is retried with backoff, never dropped; the room stays open.
 * - The room never touches sockets: a peer is `send(bytes)`, `close()` and
 *   `probe()` (is it still there?).
 * - In a cluster (`relay` given), each durable change also goes to the other
 *   nodes, and theirs come in through `applyRemoteUpdate`: already durable,
 *   they are applied and broadcast, never stored again.
 */
import {
  CLOSE_NO_DOCUMENT,
  CLOSE_TRY_AGAIN_LATER,
  encodeFrame,
  type Frame,
  ProtocolError,
  TITLE_FIELD,
  TITLE_MAX_LENGTH,
} from "@cowrite/shared";
import type { Logger } from "pino";
import * as Y from "yjs";
import { hasWriting } from "./document-content.ts";
import { noMetrics, type RoomMetrics } from "./metrics.ts";
import { Presence } from "./presence.ts";
import { RoomOutbox } from "./room-outbox.ts";
import { RoomSaves, type RoomSavesOptions } from "./room-saves.ts";
import { defaultVersionPolicy, RoomVersions, type VersionPolicy } from "./room-versions.ts";
import type { DocStore } from "./storage/doc-store.ts";
import { checkUpdate, MissingChangesError } from "./update-check.ts";

export interface Peer {
  /** Connection id, for logs. */
  readonly id: string;
  /** Read-only peers may sync and publish presence, never change the document. */
  readonly readOnly: boolean;
  /** The authenticated user; their name overrides what the client publishes. */
  readonly user?: { id: string; name: string } | null;
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /**
   * Checks that the peer still answers (a ping). Resolves false, after
   * dropping the connection, if it did not within a couple of seconds.
   */
  probe(): Promise<boolean>;
}

/**
 * How a room reaches the other nodes of a cluster (RoomLink in cluster/cluster.ts).
 * Publishing never fails towards the room: the relay makes up for what it
 * could not send.
 */
export interface RoomRelay {
  /** A change just made durable here. */
  publishUpdate(update: Uint8Array): void;
  /** This node's peers' presence changes. */
  publishPresence(update: Uint8Array): void;
  /** The room is closing: stop relaying. */
  close(): Promise<void>;
}

export interface RoomOptions {
  docId: string;
  store: DocStore;
  logger: Logger;
  now: () => number;
  /**
   * Merge the stored log after at least this many appends, once they also
   * add up to half the size of the last merged state (so that merging, which
   * costs as much as the whole document, is amortised over its growth).
   */
  compactEvery: number;
  /** Upper bound of the delay between retries of a failed save. */
  maxRetryDelayMs?: number;
  /** Largest awareness state (JSON characters) a peer may publish. */
  maxAwarenessBytes?: number;
  metrics?: RoomMetrics;
  /** Cluster mode: the link to the other nodes. */
  relay?: RoomRelay | undefined;
  /** When automatic versions are taken (default: defaultVersionPolicy). */
  versions?: VersionPolicy;
}

/**
 * Updates (and their bytes) a peer may send that wait for its sync step 2:
 * what someone types in the round trip after a reconnect, with room to spare.
 */
const maxHeldUpdates = 256;
const maxHeldBytes = 1024 * 1024;
/** All peers' held updates in one room together. */
const maxHeldBytesPerRoom = 8 * 1024 * 1024;

/** What a peer sent before its step 2 that has to wait for it. */
interface Held {
  updates: Uint8Array[];
  bytes: number;
  /** State vectors of step 1s to answer once the held updates are durable. */
  stepOnes: Uint8Array[];
}

/** How a room turns a new peer away. */
export interface Refusal {
  code: number;
  reason: string;
}

export class Room {
  readonly docId: string;
  /** The document; see `doc`. */
  private readonly ydoc: Y.Doc;
  /**
   * A stored state not yet applied to `ydoc`. A document stored as one
   * (compacted) update is applied only when something needs its content:
   * a fresh client is answered with the stored bytes and the state vector
   * computed from them, so opening a big document after a restart costs a
   * read from disk, not a full decode. The first edit applies it.
   */
  private unapplied: Uint8Array | null = null;
  readonly presence: Presence;
  private readonly peers = new Set<Peer>();
  /**
   * Peers that have not yet answered our sync step 1, with the updates they
   * sent meanwhile that build on changes we do not have. A client back from
   * offline sends what it typed since it reconnected as soon as the socket
   * opens, before its step 2 brings the offline edits those keystrokes build
   * on; such updates wait for that step 2 instead of being refused.
   */
  private readonly unsynced = new Map<Peer, Held>();
  private readonly saves: RoomSaves;
  private refused: Refusal | null = null;
  /** Durable changes waiting for this turn's broadcast. */
  private readonly outbox: RoomOutbox<Peer>;
  /**
   * Encoded frames that only change when the document does: the sync step 1
   * every joining peer gets, and the whole document as a step 2 for a peer
   * that has nothing yet. Ten fresh clients opening a large document cost one
   * encoding, not ten. Cleared by every transaction that changes something.
   */
  private stepOneFrame: Uint8Array | null = null;
  private fullStateFrame: Uint8Array | null = null;
  private readonly metrics: RoomMetrics;
  /** Automatic and named versions of this document. */
  readonly versions: RoomVersions;
  /**
   * When the stored document was created: a document deleted and created
   * again under the same id is another document, with another time.
   */
  private createdAt = 0;

  static async load(options: RoomOptions): Promise<Room> {
    const { docId, store, now } = options;
    const meta = await store.ensure(docId, now());
    const updates = await store.load(docId);
    const doc = new Y.Doc({ gc: true });
    const only = updates.length === 1 ? updates[0] : undefined;
    const storedBytes = updates.reduce((sum, update) => sum + update.length, 0);
    const room = new Room(options, doc, {
      updates: updates.length,
      bytes: storedBytes,
      title: meta.title,
      listed: meta.listed,
    });
    room.createdAt = meta.createdAt;
    if (only) {
      // A compacted document is stored as one update holding the whole
      // state: that is already the answer for a fresh client.
      room.unapplied = only;
      room.fullStateFrame = encodeFrame({ type: "sync-step-2", update: only });
      room.stepOneFrame = encodeFrame({
        type: "sync-step-1",
        stateVector: Y.encodeStateVectorFromUpdate(only),
      });
    } else {
      doc.transact(() => {
        for (const update of updates) Y.applyUpdate(doc, update);
      });
    }
    return room;
  }

  private constructor(
    private readonly options: RoomOptions,
    doc: Y.Doc,
    stored: RoomSavesOptions["stored"],
  ) {
    this.docId = options.docId;
    this.ydoc = doc;
    this.saves = new RoomSaves({
      docId: options.docId,
      store: options.store,
      logger: options.logger,
      now: options.now,
      compactEvery: options.compactEvery,
      maxRetryDelayMs: options.maxRetryDelayMs,
      stored,
      onDeleted: () => this.closeAsDeleted(),
    });
    this.versions = new RoomVersions({
      docId: options.docId,
      store: options.store,
      logger: options.logger,
      now: options.now,
      policy: options.versions ?? defaultVersionPolicy,
      state: () => Y.encodeStateAsUpdate(this.doc),
    });
    this.presence = new Presence({
      doc,
      docId: options.docId,
      logger: options.logger,
      now: options.now,
      maxStateBytes: options.maxAwarenessBytes ?? 64 * 1024,
      broadcast: (frame) => {
        for (const peer of this.peers) peer.send(frame);
      },
      publish: options.relay && ((update) => options.relay?.publishPresence(update)),
    });
    this.metrics = options.metrics ?? noMetrics;
    this.outbox = new RoomOutbox({
      docId: options.docId,
      logger: options.logger,
      metrics: this.metrics,
      recipients: () => this.peers,
    });
    doc.on("afterTransaction", this.dropEncodedState);
  }

  private readonly dropEncodedState = (transaction: Y.Transaction): void => {
    // Every joining client answers our step 1 with a step 2 that is usually
    // empty; such no-op transactions must not throw the cache away.
    if (!changesState(transaction)) return;
    this.stepOneFrame = null;
    this.fullStateFrame = null;
  };

  /** The document, with its stored state applied. */
  get doc(): Y.Doc {
    const update = this.unapplied;
    if (update) {
      this.unapplied = null;
      // The encoded frames were made from this very state: keep them.
      const { stepOneFrame, fullStateFrame } = this;
      Y.applyUpdate(this.ydoc, update);
      this.stepOneFrame = stepOneFrame;
      this.fullStateFrame = fullStateFrame;
    }
    return this.ydoc;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /**
   * Why this room takes no new peers (deleted, its memory copy discarded, or
   * its saves failing),
   * as the close a new peer gets; null while it takes them. The registry
   * loads such a document afresh once the room has closed.
   */
  get refusal(): Refusal | null {
    if (this.refused) return this.refused;
    // A new peer would wait for a "saved" that cannot come (its sync step 1
    // is answered only from durable state): tell it instead, and let it retry.
    return this.saves.lastError
      ? {
          code: CLOSE_TRY_AGAIN_LATER,
          reason: "document cannot be saved right now; try again later",
        }
      : null;
  }

  /**
   * Resolves once every update accepted so far is durable: what a sync step 1
   * is answered from must not include anything a crash could still lose.
   */
  whenDurable(): Promise<void> {
    return this.saves.whenDurable();
  }

  /** The last save error, until a save succeeds again. */
  get lastSaveError(): Error | null {
    return this.saves.lastError;
  }

  addPeer(peer: Peer): void {
    this.peers.add(peer);
    this.unsynced.set(peer, { updates: [], bytes: 0, stepOnes: [] });
    this.stepOneFrame ??= encodeFrame({
      type: "sync-step-1",
      stateVector: Y.encodeStateVector(this.doc),
    });
    peer.send(this.stepOneFrame);
    if (this.presence.size.states > 0) {
      peer.send(encodeFrame({ type: "awareness", update: this.presence.encodeStates() }));
    }
  }

  removePeer(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    this.unsynced.delete(peer);
    this.presence.removePeer(peer);
  }

  /**
   * Handles one decoded frame from `peer`. Throws ProtocolError on bad input.
   * For an accepted update, returns a promise that resolves once the update
   * is durable and broadcast; for anything else, nothing.
   */
  handle(peer: Peer, frame: Frame, receivedAt = performance.now()): Promise<void> | undefined {
    switch (frame.type) {
      case "sync-step-1": {
        const held = this.unsynced.get(peer);
        if (held && held.updates.length > 0) {
          // The answer is the peer's "saved" receipt, and its held updates
          // are not even applied yet: answer once they are durable.
          try {
            Y.decodeStateVector(frame.stateVector);
          } catch (error) {
            throw new ProtocolError(`invalid state vector: ${(error as Error).message}`);
          }
          if (this.holdingTooMuch(peer, held, frame.stateVector.length)) return;
          held.stepOnes.push(frame.stateVector);
          held.bytes += frame.stateVector.length;
          return;
        }
        this.answerStepOne(peer, frame.stateVector);
        return;
      }
      case "sync-step-2": {
        const held = this.unsynced.get(peer);
        this.unsynced.delete(peer);
        // Read-only peers' y-websocket clients still answer our step 1 with a
        // step 2; dropping it (rather than closing) keeps them connected.
        if (peer.readOnly) return;
        // What a joining client with nothing new answers our step 1 with.
        const saving = isEmptyUpdate(frame.update)
          ? undefined
          : this.applyPeerUpdate(peer, frame.update, receivedAt);
        if (!held || held.updates.length === 0) return saving;
        return this.releaseHeld(peer, held, saving, receivedAt);
      }
      case "update": {
        if (peer.readOnly) return;
        if (isEmptyUpdate(frame.update)) return;
        const held = this.unsynced.get(peer);
        if (held && held.updates.length > 0) return this.hold(peer, held, frame.update);
        try {
          return this.applyPeerUpdate(peer, frame.update, receivedAt);
        } catch (error) {
          if (!held || !(error instanceof MissingChangesError)) throw error;
          return this.hold(peer, held, frame.update);
        }
      }
      case "awareness":
        this.presence.apply(peer, frame.update);
        return;
      case "query-awareness":
        peer.send(encodeFrame({ type: "awareness", update: this.presence.encodeStates() }));
        return;
      case "permission-denied":
        throw new ProtocolError("clients may not send auth messages");
    }
  }

  /**
   * Applies a peer's held updates after its step 2, then answers the step 1s
   * it sent meanwhile once everything is durable.
   */
  private releaseHeld(
    peer: Peer,
    held: Held,
    saving: Promise<void> | undefined,
    receivedAt: number,
  ): Promise<void> {
    const savings = [saving];
    try {
      for (const update of held.updates)
        savings.push(this.applyPeerUpdate(peer, update, receivedAt));
    } catch (error) {
      // The saves already started still finish (or are given up) on their
      // own; nothing may reject unobserved.
      for (const started of savings) started?.catch(() => {});
      throw error;
    }
    return Promise.all(savings).then(async () => {
      await this.saves.whenDurable();
      if (!this.peers.has(peer)) return;
      for (const stateVector of held.stepOnes) this.answerStepOne(peer, stateVector);
    });
  }

  private answerStepOne(peer: Peer, stateVector: Uint8Array): void {
    if (isEmptyStateVector(stateVector)) {
      this.fullStateFrame ??= encodeFrame({
        type: "sync-step-2",
        update: Y.encodeStateAsUpdate(this.doc),
      });
      peer.send(this.fullStateFrame);
      return;
    }
    peer.send(
      encodeFrame({ type: "sync-step-2", update: encodeStateAsUpdate(this.doc, stateVector) }),
    );
  }

  /**
   * Whether holding `bytes` more for `peer` would pass a bound. Past its own
   * bound a peer is misbehaving (4400); past the room's, the room is busy
   * and the peer is asked to come back later (1013), its client keeps the
   * update and sends it again.
   */
  private holdingTooMuch(peer: Peer, held: Held, bytes: number): boolean {
    const count = held.updates.length + held.stepOnes.length;
    if (count >= maxHeldUpdates || held.bytes + bytes > maxHeldBytes) {
      throw new ProtocolError("too many messages before the answer to the server's sync step 1");
    }
    let roomHeld = bytes;
    for (const other of this.unsynced.values()) roomHeld += other.bytes;
    if (roomHeld <= maxHeldBytesPerRoom) return false;
    peer.close(CLOSE_TRY_AGAIN_LATER, "too much waiting for other clients' sync; try again later");
    return true;
  }

  /** Keeps an update until its sender's step 2 (later ones too, so they stay in order). */
  private hold(peer: Peer, held: Held, update: Uint8Array): undefined {
    try {
      Y.decodeUpdate(update);
    } catch (error) {
      throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`);
    }
    if (this.holdingTooMuch(peer, held, update.length)) return undefined;
    held.updates.push(update);
    held.bytes += update.length;
    return undefined;
  }

  /** Closes every peer, e.g. when the document is deleted or the server stops. */
  closePeers(code: number, reason: string): void {
    for (const peer of [...this.peers.keys()]) peer.close(code, reason);
  }

  /**
   * The document was deleted: disconnect everyone (4404, a permanent close)
   * and write nothing more, so the deleted document is not recreated.
   */
  async markDeleted(): Promise<void> {
    this.closeAsDeleted();
    // Appends already handed to the store must land before the caller
    // deletes, or they would recreate the document afterwards.
    await this.saves.flush();
  }

  private closeAsDeleted(): void {
    this.saves.stopWriting();
    this.refused = { code: CLOSE_NO_DOCUMENT, reason: "document deleted" };
    this.closePeers(this.refused.code, this.refused.reason);
  }

  /** Shutdown's grace period is over: give up saves that keep failing. */
  abandonSaves(): void {
    this.saves.abandon();
  }

  /** Resolves once every accepted update is durable. */
  flush(): Promise<void> {
    return this.saves.flush();
  }

  /**
   * Applies a change another node made durable and broadcasts what is new
   * here. It may build on a change this node has not seen (a relay message
   * lost): Yjs keeps it pending, and `hasMissingChanges` tells.
   */
  applyRemoteUpdate(update: Uint8Array): void {
    const doc = this.doc;
    const changes: Uint8Array[] = [];
    const capture = (change: Uint8Array) => changes.push(change);
    doc.on("update", capture);
    try {
      Y.applyUpdate(doc, update, this);
    } finally {
      doc.off("update", capture);
    }
    if (changes.length === 0) return;
    const change = changes.length === 1 ? (changes[0] as Uint8Array) : Y.mergeUpdates(changes);
    void this.outbox.push({ update: change, origin: null, receivedAt: performance.now() });
  }

  /** Whether the document holds changes that wait for others it lacks. */
  get hasMissingChanges(): boolean {
    const store = this.ydoc.store;
    return store.pendingStructs !== null || store.pendingDs !== null;
  }

  /**
   * Catches up with the store after relay messages may have been lost:
   * applies what it holds (a no-op for what is here already). Resolves
   * "deleted" when the document is gone from the store, or is another one
   * created since under the same id: its deletion was missed.
   */
  async catchUp(): Promise<"caught-up" | "deleted"> {
    const updates = await this.options.store.load(this.docId);
    // Read after the log: if the document is still the one loaded, the log
    // read before was its log too (nothing of a re-created one gets in).
    const meta = await this.options.store.get(this.docId);
    if (!meta || meta.createdAt !== this.createdAt) return "deleted";
    if (updates.length === 0) return "caught-up";
    this.applyRemoteUpdate(
      updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates),
    );
    return "caught-up";
  }

  /** Saves what is pending, merges the log and frees memory. */
  async close(): Promise<void> {
    // The last peers' departures, for the other nodes.
    this.presence.publishPending();
    await this.saves.close();
    await this.versions.close();
    await this.options.relay?.close();
    this.outbox.close();
    this.presence.close();
    this.ydoc.off("afterTransaction", this.dropEncodedState);
    this.ydoc.destroy();
  }

  private applyPeerUpdate(
    peer: Peer,
    update: Uint8Array,
    receivedAt: number,
  ): Promise<void> | undefined {
    const doc = this.doc;
    const ends = checkUpdate(doc, update);
    // Capture what the update actually changed (nothing for a duplicate).
    // Storing `update` as it came would save a re-encoding, but a client's
    // bytes are not always canonical (a sync step 2 carries the client's
    // whole delete set; forged duplicate sections are read differently by
    // applyUpdate and mergeUpdates): only Yjs's own encoding is safe to
    // store and forward.
    const changes: Uint8Array[] = [];
    const capture = (change: Uint8Array) => changes.push(change);
    let failure: unknown = null;
    doc.on("update", capture);
    try {
      Y.applyUpdate(doc, update, peer);
    } catch (error) {
      failure = error;
    } finally {
      doc.off("update", capture);
    }
    // Everything the update carries must now be in the document (whatever
    // the document held pending before, e.g. from storage, is not ours).
    let integrated = true;
    for (const [client, end] of ends) {
      if (Y.getState(doc.store, client) < end) integrated = false;
    }
    if (failure || !integrated) {
      // Passed the check, yet Yjs refused it halfway: part of it may be in
      // the document now. Nothing of it is stored or sent; everyone else
      // reconnects to a copy reloaded from storage.
      this.discardMemoryCopy(peer, failure);
      throw new ProtocolError("invalid Yjs update");
    }
    return changes.length > 0 ? this.persistAndBroadcast(changes, peer, receivedAt) : undefined;
  }

  /**
   * The in-memory document can no longer be trusted: close every peer (the
   * sender gets its 4400 from the caller) and refuse new ones, so the
   * registry drops this room once they are gone and the next peer loads the
   * document afresh. Saves already under way finish; they were accepted
   * before the damage.
   */
  private discardMemoryCopy(sender: Peer, cause: unknown): void {
    this.options.logger.error(
      { err: cause, docId: this.docId, conn: sender.id },
      "a checked update failed inside Yjs; reloading the document",
    );
    const refused = { code: CLOSE_TRY_AGAIN_LATER, reason: "document is reloading; reconnect" };
    this.refused = refused;
    for (const peer of [...this.peers.keys()]) {
      if (peer !== sender) peer.close(refused.code, refused.reason);
    }
  }

  private persistAndBroadcast(
    changes: Uint8Array[],
    origin: Peer,
    receivedAt: number,
  ): Promise<void> {
    const change = changes.length === 1 ? (changes[0] as Uint8Array) : Y.mergeUpdates(changes);
    // Listed in the document list once someone wrote in it (checked until then).
    const listed = this.saves.listed || hasWriting(this.doc);
    return this.saves.save(change, this.readTitle(), listed).then((saved) => {
      if (!saved) return;
      this.versions.edited(origin.user?.name ?? this.presence.nameOf(origin));
      this.metrics.updateDurable((performance.now() - receivedAt) / 1000);
      this.options.relay?.publishUpdate(change);
      return this.outbox.push({ update: change, origin, receivedAt });
    });
  }

  private readTitle(): string {
    return this.doc.getText(TITLE_FIELD).toString().trim().slice(0, TITLE_MAX_LENGTH);
  }
}

/**
 * Whether a transaction changed the document's state: Yjs's own test before
 * it emits an update (some changes, such as an insert into content that was
 * already deleted and collected, mark no type as changed).
 */
function changesState(transaction: Y.Transaction): boolean {
  if (transaction.deleteSet.clients.size > 0) return true;
  for (const [client, clock] of transaction.afterState) {
    if (transaction.beforeState.get(client) !== clock) return true;
  }
  return false;
}

/** A Yjs update with no structs and no deletions (what `encodeStateAsUpdate` gives for nothing). */
function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0;
}

/** A state vector with no clients: the peer has nothing yet. */
function isEmptyStateVector(stateVector: Uint8Array): boolean {
  return stateVector.length === 1 && stateVector[0] === 0;
}

function encodeStateAsUpdate(doc: Y.Doc, stateVector: Uint8Array): Uint8Array {
  try {
    return Y.encodeStateAsUpdate(doc, stateVector);
  } catch (error) {
    throw new ProtocolError(`invalid state vector: ${(error as Error).message}`);
  }
}
