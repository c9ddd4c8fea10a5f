/**
 * One document's presence (y-protocols awareness): who is here, their names
 * and carets. Held in memory only, never stored.
 *
 * Contract:
 * - `apply` takes a peer's awareness update; oversize states and too many
 *   client ids on one connection throw ProtocolError (the connection closes
 *   with 4400). Entries for client ids another connection owns are
 *   dropped, not refused.
 * - A connection owns every client id it published a state for (added or
 *   updated), until it leaves; clearing its state does not release the id.
 *   Another connection gets it only by publishing a newer state and being
 *   the same user (auth on) or, without auth, once the owner fails a probe.
 * - `removePeer` removes every state the peer published and releases its ids.
 * - Memory is bounded whatever clients send: at most 8 ids per connection,
 *   plus the clocks of recently released ids (30 s, at most 1024).
 * - Changes of one window go out together through `broadcast`, one frame
 *   for all peers.
 * - In a cluster, the states of other nodes' clients arrive through
 *   `applyRemote` (owned by that node, never by a peer here) and leave with
 *   `removeNode` when the node is gone; changes made by this node's peers
 *   go out through `publish` (once per window, like the broadcast).
 * - Never touches sockets: a peer is the Room's `Peer`.
 */
import {
  type AwarenessEntry,
  decodeAwarenessUpdate,
  encodeAwarenessUpdate,
  encodeFrame,
  ProtocolError,
} from "@cowrite/shared";
import type { Logger } from "pino";
import * as awarenessProtocol from "y-protocols/awareness";
import type * as Y from "yjs";
import type { Peer } from "./room.ts";

export interface PresenceOptions {
  /** The room's document (the awareness takes its client id from it). */
  doc: Y.Doc;
  docId: string;
  logger: Logger;
  now: () => number;
  /** Largest awareness state (JSON characters) a peer may publish. */
  maxStateBytes: number;
  /** Sends one frame to every peer of the room, the publishers included. */
  broadcast: (frame: Uint8Array) => void;
  /** Cluster mode: this node's peers' presence changes, for the other nodes. */
  publish?: ((update: Uint8Array) => void) | undefined;
}

/** Origin of the removals made when a peer leaves (relayed, unlike timeouts). */
const PEER_LEFT = "peer-left";

/** Awareness client ids one connection may publish (a y-websocket client uses one). */
const maxAwarenessIdsPerPeer = 8;

/**
 * How long the clock of a departed client id is kept, and how many such
 * clocks at most. Clients drop a state not renewed for 30 s (y-protocols'
 * outdatedTimeout), so none still echoes it after that.
 */
const removedClockMs = 30_000;
const maxRemovedClocks = 1024;

/**
 * Presence changes wait this long and go out together, as one message per
 * peer. Every caret move of every client is a presence change; sent one by
 * one, N people in a document cost N sends per move (40 clients moving 10
 * times a second: 16,000 frames/s). Batched, a peer gets at most one
 * presence message per window whatever the number of clients, and a caret
 * shows up at most this much later.
 */
const awarenessBatchMs = 25;

export class Presence {
  private readonly awareness: awarenessProtocol.Awareness;
  /** Each peer with the awareness client ids it controls. */
  private readonly idsByPeer = new Map<Peer, Set<number>>();
  /** Which peer owns each awareness client id (its state may be cleared). */
  private readonly owners = new Map<number, Peer>();
  /** Ids released by a peer that left, with when: their clocks, kept a while. */
  private readonly removed = new Map<number, number>();
  /** Newer states for owned ids, each waiting for its owner's probe. */
  private readonly claims = new Map<number, { peer: Peer; entry: AwarenessEntry }>();
  /** Client ids changed since the last broadcast. */
  private changed = new Set<number>();
  /** Of those, the ids this node's peers changed (what other nodes need). */
  private changedHere = new Set<number>();
  /** Ids whose state came from another node, with that node's id. */
  private readonly remoteOwners = new Map<string, Set<number>>();
  private readonly remoteOwnerOf = new Map<number, string>();
  /** Set while applying another node's states (their owner). */
  private applyingFrom: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: PresenceOptions) {
    this.awareness = new awarenessProtocol.Awareness(options.doc);
    // The server has no presence of its own.
    this.awareness.setLocalState(null);
    this.awareness.on("update", this.onUpdate);
  }

  /** Every current state as one awareness update (empty when nobody is present). */
  encodeStates(): Uint8Array {
    return awarenessProtocol.encodeAwarenessUpdate(this.awareness, [
      ...this.awareness.getStates().keys(),
    ]);
  }

  /** The name `peer` shows in its presence, if it publishes one. */
  nameOf(peer: Peer): string | null {
    for (const id of this.idsByPeer.get(peer) ?? []) {
      const state = this.awareness.getStates().get(id) as Record<string, unknown> | undefined;
      const user = state?.user as Record<string, unknown> | undefined;
      const name = state?.name ?? user?.name;
      if (typeof name === "string" && name.trim() !== "") return name.trim().slice(0, 100);
    }
    return null;
  }

  /** States held, and client ids with a clock (present, cleared, or recently removed). */
  get size(): { states: number; clients: number } {
    return { states: this.awareness.getStates().size, clients: this.awareness.meta.size };
  }

  /**
   * Applies a peer's presence. Oversize states close the connection. Entries
   * the peer may not apply are dropped, not refused: the standard y-websocket
   * client echoes every awareness change it receives back to the server
   * (removals of others included), so such entries are normal. Dropped are
   * entries for ids another connection owns (no overwriting someone else's
   * presence), removals of ids the peer does not own (there is nothing of
   * its own to remove, and y-protocols would keep a clock for each), and
   * entries no newer than the clock the server has (echoes). Every other
   * state claims its id for the peer and counts against its cap.
   *
   * A newer state for an id another connection owns is what a client sends
   * after reconnecting from a socket that died silently, which the server
   * only notices at the next heartbeat. With auth on, the same user takes
   * the id over at once. Without auth there is no identity to compare: the
   * owner is probed (`Peer.probe`), and the id goes to the newest claimant
   * only if the owner does not answer, so nobody can take a live client's id.
   * Other users' claims are dropped unprobed: a reconnect is the same user.
   *
   * With auth on, the authenticated user's name is stamped over the state.
   */
  apply(peer: Peer, update: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update);
    const maxBytes = this.options.maxStateBytes;
    this.forgetRemoved();
    const owned = this.idsByPeer.get(peer)?.size ?? 0;
    const claimed = new Set<number>();
    const takeovers: number[] = [];
    const contested: { owner: Peer; entry: AwarenessEntry }[] = [];
    const own: AwarenessEntry[] = [];
    for (const entry of entries) {
      if (entry.stateLength > maxBytes) {
        throw new ProtocolError(`awareness state larger than ${maxBytes} bytes`);
      }
      const id = entry.clientId;
      const owner = this.owners.get(id);
      if (owner !== peer) {
        if (entry.state === null || !this.isNewer(entry)) continue;
        // Count ids new in this very message too, not only those already owned.
        claimed.add(id);
        if (owned + claimed.size > maxAwarenessIdsPerPeer) {
          throw new ProtocolError("too many awareness client ids on one connection");
        }
        if (owner && !isSameUser(peer, owner)) {
          if (!owner.user) contested.push({ owner, entry });
          continue;
        }
        if (owner) takeovers.push(id);
      }
      own.push(entry);
    }
    for (const { owner, entry } of contested) this.contest(peer, owner, entry);
    if (own.length === 0) return;
    for (const id of takeovers) this.claim(id, peer);
    this.applyEntries(peer, own.length === entries.length ? update : null, own);
  }

  /**
   * Removes the presence the peer published and releases its ids. Their
   * clocks are kept a while, then forgotten (`forgetRemoved`).
   */
  removePeer(peer: Peer): void {
    for (const [id, claim] of this.claims) if (claim.peer === peer) this.claims.delete(id);
    const ids = this.idsByPeer.get(peer);
    if (!ids) return;
    this.idsByPeer.delete(peer);
    const at = this.options.now();
    for (const id of ids) {
      this.owners.delete(id);
      // Re-inserted, so the map stays ordered by removal time.
      this.removed.delete(id);
      this.removed.set(id, at);
    }
    awarenessProtocol.removeAwarenessStates(this.awareness, [...ids], PEER_LEFT);
    this.forgetRemoved();
  }

  /**
   * Applies the presence another node's clients published (that node
   * checked it). Entries for ids a peer here owns are dropped: whoever is
   * connected here speaks for them; the other node's copy is a leftover.
   */
  applyRemote(node: string, update: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update);
    const kept = entries.filter((entry) => !this.owners.has(entry.clientId));
    if (kept.length === 0) return;
    this.forgetRemoved();
    this.applyingFrom = node;
    try {
      awarenessProtocol.applyAwarenessUpdate(
        this.awareness,
        kept.length === entries.length ? update : encodeAwarenessUpdate(kept),
        node,
      );
    } finally {
      this.applyingFrom = null;
    }
  }

  /**
   * Another node is gone (it said goodbye, or stopped sending heartbeats):
   * its clients' states leave at once. Their clocks are not moved on, so a
   * state they publish again through another node (a reconnect) is taken.
   */
  removeNode(node: string): void {
    const ids = this.remoteOwners.get(node);
    if (!ids) return;
    this.remoteOwners.delete(node);
    const at = this.options.now();
    for (const id of ids) {
      this.remoteOwnerOf.delete(id);
      if (!this.awareness.states.delete(id)) continue;
      this.removed.delete(id);
      this.removed.set(id, at);
      this.changed.add(id);
    }
    this.scheduleBroadcast();
    this.forgetRemoved();
  }

  /**
   * The states of this node's peers, for a node that asks (null if none).
   * `renewed`: each with its clock moved on by one, for nodes that removed
   * them (they keep a removed state's clock and take only newer ones). The
   * state's own next change then reaches them one change late.
   */
  encodeLocalStates(options: { renewed?: boolean } = {}): Uint8Array | null {
    const ids = [...this.owners.keys()].filter((id) => this.awareness.states.has(id));
    if (ids.length === 0) return null;
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids);
    if (!options.renewed) return update;
    return encodeAwarenessUpdate(
      decodeAwarenessUpdate(update).map((entry) => ({ ...entry, clock: entry.clock + 1 })),
    );
  }

  /** Applies entries `peer` may apply (`update`: the same, still encoded, if at hand). */
  private applyEntries(peer: Peer, update: Uint8Array | null, entries: AwarenessEntry[]): void {
    const user = peer.user;
    const applied =
      user || !update
        ? encodeAwarenessUpdate(
            user ? entries.map((entry) => withUserName(entry, user.name)) : entries,
          )
        : update;
    awarenessProtocol.applyAwarenessUpdate(this.awareness, applied, peer);
  }

  /**
   * Probes the owner of a contested id; keeps only the newest claim while
   * the probe runs (one probe per id at a time).
   */
  private contest(peer: Peer, owner: Peer, entry: AwarenessEntry): void {
    const id = entry.clientId;
    const running = this.claims.get(id);
    if (running && running.entry.clock >= entry.clock) return;
    this.claims.set(id, { peer, entry });
    if (running) return;
    owner.probe().then(
      (alive) => this.settleClaim(id, owner, alive),
      (error: unknown) => {
        this.claims.delete(id);
        this.options.logger.error({ err: error, docId: this.options.docId }, "probe failed");
      },
    );
  }

  /** Hands a contested id to its newest claimant if the owner did not answer. */
  private settleClaim(id: number, owner: Peer, alive: boolean): void {
    const claim = this.claims.get(id);
    this.claims.delete(id);
    if (alive || !claim || this.closed) return;
    const current = this.owners.get(id);
    // Taken meanwhile by someone else, superseded, or past the claimant's cap
    // (it is not closed for that: the claim was within the cap when made).
    if (current && current !== owner) return;
    if (!this.isNewer(claim.entry)) return;
    if ((this.idsByPeer.get(claim.peer)?.size ?? 0) >= maxAwarenessIdsPerPeer) return;
    this.options.logger.info(
      { docId: this.options.docId, clientId: id, from: owner.id, to: claim.peer.id },
      "presence id handed over from a connection that did not answer",
    );
    this.claim(id, claim.peer);
    this.applyEntries(claim.peer, null, [claim.entry]);
  }

  /** Sends the changes of the current window now. */
  flush(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.broadcast();
  }

  /**
   * Publishes this node's pending changes to the other nodes now, and sends
   * nothing more to peers: the room is closing, and other nodes must still
   * hear that its last peers left.
   */
  publishPending(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const here = [...this.changedHere];
    this.changedHere = new Set();
    if (here.length === 0 || !this.options.publish) return;
    try {
      this.options.publish(awarenessProtocol.encodeAwarenessUpdate(this.awareness, here));
    } catch (error) {
      this.options.logger.error(
        { err: error, docId: this.options.docId },
        "presence publish failed",
      );
    }
  }

  /** Stops the batching timer and frees the awareness. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.awareness.off("update", this.onUpdate);
    this.awareness.destroy();
  }

  /** Whether the entry is newer than what the server has (y-protocols applies nothing else). */
  private isNewer(entry: AwarenessEntry): boolean {
    return entry.clock > (this.awareness.meta.get(entry.clientId)?.clock ?? 0);
  }

  /** Makes `peer` the owner of `id`, taking it from any previous owner. */
  private claim(id: number, peer: Peer): void {
    const previous = this.owners.get(id);
    if (previous === peer) return;
    if (previous) this.idsByPeer.get(previous)?.delete(id);
    this.releaseRemote(id);
    this.owners.set(id, peer);
    this.idsOf(peer).add(id);
    this.removed.delete(id);
  }

  /**
   * Drops the clocks of ids removed long enough ago (or beyond the cap) that
   * nobody owns again. The clock of a removed id is what makes a late echo
   * of its last state (from a client that had not yet heard of the removal)
   * an old one, dropped; y-protocols would keep it forever. Called on
   * presence traffic: a quiet room keeps at most the capped number.
   */
  private forgetRemoved(): void {
    const cutoff = this.options.now() - removedClockMs;
    for (const [id, at] of this.removed) {
      if (at > cutoff && this.removed.size <= maxRemovedClocks) break;
      this.removed.delete(id);
      if (!this.owners.has(id)) this.awareness.meta.delete(id);
    }
  }

  /** Forgets that another node owns `id`. */
  private releaseRemote(id: number): void {
    const node = this.remoteOwnerOf.get(id);
    if (node === undefined) return;
    this.remoteOwnerOf.delete(id);
    const ids = this.remoteOwners.get(node);
    ids?.delete(id);
    if (ids?.size === 0) this.remoteOwners.delete(node);
  }

  /** Records that another node speaks for `id`. */
  private ownRemotely(id: number, node: string): void {
    this.removed.delete(id);
    if (this.remoteOwnerOf.get(id) === node) return;
    this.releaseRemote(id);
    this.remoteOwnerOf.set(id, node);
    let ids = this.remoteOwners.get(node);
    if (!ids) {
      ids = new Set();
      this.remoteOwners.set(node, ids);
    }
    ids.add(id);
  }

  /** The presence ids a peer controls, created on its first one. */
  private idsOf(peer: Peer): Set<number> {
    let ids = this.idsByPeer.get(peer);
    if (!ids) {
      ids = new Set();
      this.idsByPeer.set(peer, ids);
    }
    return ids;
  }

  private readonly onUpdate = (
    changes: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const published = [...changes.added, ...changes.updated];
    const node = this.applyingFrom;
    // Removed, by their node or by timing out: no node speaks for them now.
    // Their clocks are kept a while, as for a peer that left here.
    const at = this.options.now();
    for (const id of changes.removed) {
      if (!this.remoteOwnerOf.has(id)) continue;
      this.releaseRemote(id);
      this.removed.delete(id);
      this.removed.set(id, at);
    }
    if (node !== null) {
      for (const id of published) this.ownRemotely(id, node);
    } else if (published.length > 0 && isPeer(origin)) {
      // Ownership follows every state a peer publishes. A returning client
      // id (a reconnect, or a state published again after clearing it) is
      // "updated", not "added": y-protocols still knows its clock.
      for (const id of published) this.claim(id, origin);
    }
    // A cleared (or timed-out) state stays its owner's: the owner may
    // publish it again, and nobody else may take the id meanwhile. Ids are
    // released only when their peer leaves (`removePeer`).
    for (const id of [...published, ...changes.removed]) this.changed.add(id);
    // Timeouts are not relayed: every node times out the same states itself.
    if (node === null && (isPeer(origin) || origin === PEER_LEFT)) {
      for (const id of [...published, ...changes.removed]) this.changedHere.add(id);
    }
    this.scheduleBroadcast();
  };

  private scheduleBroadcast(): void {
    if (this.timer) return;
    this.timer = setTimeout(this.broadcast, awarenessBatchMs);
    this.timer.unref();
  }

  /** Sends every presence change of the last window as one message. */
  private readonly broadcast = (): void => {
    this.timer = null;
    const ids = [...this.changed];
    const here = [...this.changedHere];
    this.changed = new Set();
    this.changedHere = new Set();
    if (this.closed || ids.length === 0) return;
    // A timer callback: nothing may escape it and take the process down.
    try {
      // Each id's current state (null once removed) with its latest clock.
      const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, ids);
      // Sent to the publisher too: y-websocket treats 30 s without any incoming
      // message as a dead link, and a client alone in a document would
      // otherwise hear nothing but its own (unechoed) presence renewals.
      this.options.broadcast(encodeFrame({ type: "awareness", update }));
      if (here.length > 0 && this.options.publish) {
        this.options.publish(
          here.length === ids.length
            ? update
            : awarenessProtocol.encodeAwarenessUpdate(this.awareness, here),
        );
      }
    } catch (error) {
      this.options.logger.error(
        { err: error, docId: this.options.docId },
        "presence broadcast failed",
      );
    }
  };
}

/** Origins of awareness changes are peers, or strings from y-protocols ("timeout", "local"). */
function isPeer(origin: unknown): origin is Peer {
  return typeof origin === "object" && origin !== null;
}

/** With auth on: connections of the same user may hand presence ids to each other. */
function isSameUser(peer: Peer, owner: Peer): boolean {
  return peer.user != null && peer.user.id === owner.user?.id;
}

function withUserName(entry: AwarenessEntry, name: string): AwarenessEntry {
  const state = entry.state;
  if (typeof state !== "object" || state === null || Array.isArray(state)) return entry;
  const next: Record<string, unknown> = { ...state, name };
  const user = next.user;
  if (typeof user === "object" && user !== null && !Array.isArray(user)) {
    next.user = { ...user, name };
  }
  return { ...entry, state: next };
}
