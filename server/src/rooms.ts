/**
 * The room registry: the only owner of open rooms.
 *
 * Each room goes loading -> open -> closing. Concurrent `acquire`s of the same
 * document share one load, so a document is read from storage once however
 * many clients arrive at the same moment. A room leaves memory only after
 * its last peer released it and its final save finished; an `acquire` that
 * arrives while a room is closing waits for that and then loads it afresh.
 */
import type { Room } from "./room.ts";

interface Entry {
  refs: number;
  state: "loading" | "open" | "closing";
  ready: Promise<Room>;
  room?: Room;
  closed?: Promise<void>;
  /** Resolves when the entry leaves the registry. */
  gone: Promise<void>;
  leave: () => void;
}

export interface RoomRegistryOptions {
  open: (docId: string) => Promise<Room>;
  /** Deletes the stored document; resolves whether it existed. */
  remove: (docId: string) => Promise<boolean>;
  onCloseError?: (docId: string, error: unknown) => void;
}

export class RoomRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Deletions in progress: documents no one may open until they finish. */
  private readonly deleting = new Map<string, Promise<boolean>>();
  /**
   * Rooms of deleted documents whose peers are still leaving: out of
   * `entries`, so the id can be opened afresh (once created again) at once.
   */
  private readonly detached = new Map<Room, Entry>();
  /** Set at shutdown: rooms that load from now on give up failing saves too. */
  private abandoned = false;

  constructor(private readonly options: RoomRegistryOptions) {}

  /** Opens (or shares) the document's room and counts one reference to it. */
  async acquire(docId: string): Promise<Room> {
    let entry = this.entries.get(docId);
    for (;;) {
      const deleting = this.deleting.get(docId);
      if (deleting) await deleting.catch(() => {});
      else if (entry?.state === "closing") await entry.closed;
      else break;
      entry = this.entries.get(docId);
    }
    if (!entry) entry = this.startLoading(docId);
    entry.refs++;
    try {
      return await entry.ready;
    } catch (error) {
      entry.refs--;
      throw error;
    }
  }

  /**
   * Drops one reference to `room` (default: the document's current room);
   * the last one closes it.
   */
  release(docId: string, room?: Room): Promise<void> {
    const current = this.entries.get(docId);
    const entry = room === undefined || current?.room === room ? current : this.detached.get(room);
    if (!entry || entry.refs <= 0) throw new Error(`release of ${docId} without acquire`);
    entry.refs--;
    if (entry.refs > 0 || entry.state !== "open") return entry.closed ?? Promise.resolve();
    entry.state = "closing";
    entry.closed = entry.ready
      .then((room) => room.close())
      .catch((error: unknown) => this.options.onCloseError?.(docId, error))
      .finally(() => this.remove(docId, entry));
    return entry.closed;
  }

  /**
   * Deletes a document, whatever state its room is in: a loading room is
   * deleted once loaded, an open one closes its peers with 4404 and lands
   * the writes it already accepted first, a closing one finishes closing.
   * Opens of the document wait until the delete is done (and then find it
   * deleted). Resolves whether the document existed.
   */
  delete(docId: string): Promise<boolean> {
    return this.startDeleting(docId, true);
  }

  /**
   * Another server deleted the document (cluster mode): its room here, if
   * any, goes as for `delete`, but the store is left alone.
   */
  deletedElsewhere(docId: string): Promise<void> {
    return this.startDeleting(docId, false).then(() => {});
  }

  private startDeleting(docId: string, removeStored: boolean): Promise<boolean> {
    const running = this.deleting.get(docId);
    if (running) return running.then(() => false);
    const deleting = this.deleteNow(docId, removeStored).finally(() => this.deleting.delete(docId));
    this.deleting.set(docId, deleting);
    return deleting;
  }

  private async deleteNow(docId: string, removeStored: boolean): Promise<boolean> {
    const entry = this.entries.get(docId);
    if (entry?.state === "closing") await entry.closed;
    else if (entry) {
      const room = await entry.ready.catch(() => null);
      if (room) {
        await room.markDeleted();
        // Its peers may take a while to finish their close handshakes; the
        // id must not wait for them.
        if (this.entries.get(docId) === entry) {
          this.entries.delete(docId);
          this.detached.set(room, entry);
        }
      }
    }
    return removeStored ? this.options.remove(docId) : false;
  }

  /** The open room of a document, if any (not one still loading). */
  get(docId: string): Room | undefined {
    const entry = this.entries.get(docId);
    return entry?.state === "open" ? entry.room : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Every room that is open now. */
  openRooms(): Room[] {
    return [...this.entries.values()]
      .filter((entry) => entry.state === "open")
      .map((entry) => entry.room)
      .filter((room): room is Room => room !== undefined);
  }

  /** Makes every room, open or closing, give up saves that keep failing (shutdown). */
  abandonSaves(): void {
    this.abandoned = true;
    for (const entry of this.all()) entry.room?.abandonSaves();
  }

  private all(): Entry[] {
    return [...this.entries.values(), ...this.detached.values()];
  }

  /** Resolves when every room has closed (close their peers first). */
  async drain(): Promise<void> {
    while (this.entries.size > 0 || this.detached.size > 0) {
      await Promise.all(this.all().map((entry) => entry.gone));
    }
  }

  private remove(docId: string, entry: Entry): void {
    if (this.entries.get(docId) === entry) this.entries.delete(docId);
    if (entry.room) this.detached.delete(entry.room);
    entry.leave();
  }

  private startLoading(docId: string): Entry {
    let leave = () => {};
    const gone = new Promise<void>((resolve) => {
      leave = resolve;
    });
    const entry: Entry = {
      refs: 0,
      state: "loading",
      ready: this.options.open(docId),
      gone,
      leave,
    };
    this.entries.set(docId, entry);
    entry.ready.then(
      (room) => {
        entry.room = room;
        entry.state = "open";
        if (this.abandoned) room.abandonSaves();
        // Every acquirer gave up (e.g. its socket closed) while we loaded.
        if (entry.refs === 0) {
          entry.refs = 1;
          void this.release(docId, room);
        }
      },
      () => this.remove(docId, entry),
    );
    return entry;
  }
}
