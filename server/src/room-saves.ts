/**
 * A room's saves: each accepted change is appended to the store and retried
 * with backoff until it is durable, never dropped; the stored log is merged
 * now and then so that the document loads as one update.
 *
 * Contract:
 * - `save` resolves true once the change is durable, false when the document
 *   was deleted (the change has nowhere to go and must not recreate it). It
 *   rejects only with SaveAbandonedError, after `abandon` (shutdown).
 * - While saves fail, `lastError` holds the error; it clears on the next
 *   success.
 * - Merges run in the background, at most one at a time, and only once the
 *   appends since the last one add up to half the merged state (merging
 *   costs as much as the whole document, so it is amortised over its growth).
 */
import type { Logger } from "pino";
import { type AppendInfo, type DocStore, DocumentDeletedError } from "./storage/doc-store.ts";

export interface RoomSavesOptions {
  docId: string;
  store: DocStore;
  logger: Logger;
  now: () => number;
  /** Merge the stored log after at least this many appends (and see above). */
  compactEvery: number;
  /** Upper bound of the delay between retries of a failed save. */
  maxRetryDelayMs?: number;
  /** What the store held when the room loaded. */
  stored: { updates: number; bytes: number; title: string; listed: boolean };
  /** The store refused a save because the document was deleted meanwhile. */
  onDeleted: () => void;
}

/** A save given up at shutdown while storage was failing. */
export class SaveAbandonedError extends Error {
  override name = "SaveAbandonedError";
  constructor(
    readonly docId: string,
    override readonly cause: unknown,
  ) {
    super(`gave up saving an update of ${docId} at shutdown: ${(cause as Error)?.message}`);
  }
}

export class RoomSaves {
  private readonly inflight = new Set<Promise<boolean>>();
  private appendsSinceCompact: number;
  /** Bytes appended since the last merge, and the size of the merged state then. */
  private bytesSinceCompact: number;
  private snapshotBytes = 0;
  private compacting: Promise<void> | null = null;
  /** The title as stored, so an append writes it only when it changed. */
  private title: string;
  /** Whether the store lists the document; and whether a save asked it to. */
  private listedStored: boolean;
  private listing = false;
  private error: Error | null = null;
  /** Set while any save keeps failing; later saves wait until none does. */
  private recovering: Promise<void> | null = null;
  private endRecovering: (() => void) | null = null;
  private failingSaves = 0;
  private deleted = false;
  /** Set at shutdown: saves that fail are given up instead of retried. */
  private abandoned = false;
  private closed = false;
  /** Pending retry delays, each with the function that ends it early. */
  private readonly retryTimers = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly options: RoomSavesOptions) {
    this.appendsSinceCompact = options.stored.updates;
    this.bytesSinceCompact = options.stored.bytes;
    this.title = options.stored.title;
    this.listedStored = options.stored.listed;
    if (options.stored.updates >= options.compactEvery) this.compactInBackground();
  }

  /** The last save error, until a save succeeds again. */
  get lastError(): Error | null {
    return this.error;
  }

  /** Whether the document is listed, or a save already asked for it. */
  get listed(): boolean {
    return this.listedStored || this.listing;
  }

  /**
   * Appends `update` (with the document's title after it, and whether it
   * now has writing, which lists it); see the contract.
   */
  save(update: Uint8Array, title: string, listed: boolean): Promise<boolean> {
    if (this.deleted) return Promise.resolve(false);
    if (listed) this.listing = true;
    const saving = this.saveWithRetry(update, title, listed);
    this.inflight.add(saving);
    return saving.finally(() => this.inflight.delete(saving));
  }

  /** Resolves once every save started so far has settled. */
  async whenDurable(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  /** Resolves once every save, including those started meanwhile, and any merge have settled. */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.compacting;
  }

  /** The document was deleted: write nothing more, and stop retrying. */
  stopWriting(): void {
    this.deleted = true;
    this.wakeRetries();
  }

  /**
   * Shutdown's grace period is over: stop retrying saves that fail. Their
   * updates were never acknowledged (the clients that sent them still hold
   * them and send them again on their next connect); everything acknowledged
   * is on disk already.
   */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    if (this.inflight.size > 0) {
      this.options.logger.error(
        { docId: this.options.docId, unsaved: this.inflight.size, err: this.error },
        "shutting down with saves failing: giving up updates that were never acknowledged",
      );
    }
    this.wakeRetries();
  }

  /** Ends every retry delay now; each retry then looks at why it was woken. */
  private wakeRetries(): void {
    for (const [timer, wake] of this.retryTimers) {
      clearTimeout(timer);
      wake();
    }
    this.retryTimers.clear();
  }

  /** Lands what is pending, then merges the log once more. */
  async close(): Promise<void> {
    await this.flush();
    if (this.appendsSinceCompact > 1 && !this.deleted && !this.abandoned) await this.compact();
    this.closed = true;
    for (const timer of this.retryTimers.keys()) clearTimeout(timer);
  }

  private async saveWithRetry(
    update: Uint8Array,
    title: string,
    listed: boolean,
  ): Promise<boolean> {
    const { docId, store, logger } = this.options;
    // While an earlier save is failing, later ones wait for it, so the store
    // never holds a change without the changes it builds on.
    while (this.recovering) await this.recovering;
    if (this.deleted) return false;
    const info: AppendInfo = { at: this.options.now() };
    if (title !== this.title) info.title = title;
    if (listed && !this.listedStored) info.listed = true;
    let recovered: (() => void) | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        await store.append(docId, update, info);
        break;
      } catch (error) {
        if (error instanceof DocumentDeletedError) {
          // Deleted meanwhile (e.g. by another server).
          recovered?.();
          this.deleted = true;
          this.options.onDeleted();
          return false;
        }
        // One failed attempt can be routine contention (a large compaction's
        // final write holding the lock past the writer's wait); a second is
        // an outage that readiness and new clients are told about.
        if (attempt > 0 || this.abandoned) this.error = error as Error;
        recovered ??= this.startRecovering();
        if (this.abandoned) {
          recovered();
          throw new SaveAbandonedError(docId, error);
        }
        const delayMs = Math.min(100 * 2 ** attempt, this.options.maxRetryDelayMs ?? 5000);
        logger.error(
          { err: error, docId, attempt, retryInMs: delayMs },
          "saving an update failed; retrying",
        );
        await this.delay(delayMs);
        if (this.deleted) {
          recovered();
          return false;
        }
      }
    }
    recovered?.();
    if (this.failingSaves === 0) this.error = null;
    this.title = info.title ?? this.title;
    if (info.listed) this.listedStored = true;
    this.appendsSinceCompact++;
    this.bytesSinceCompact += update.length;
    if (
      this.appendsSinceCompact >= this.options.compactEvery &&
      this.bytesSinceCompact * 2 >= this.snapshotBytes
    ) {
      this.compactInBackground();
    }
    return true;
  }

  /**
   * Counts one more failing save until the returned function is called; the
   * gate for later saves opens only when no save is failing.
   */
  private startRecovering(): () => void {
    this.failingSaves++;
    this.recovering ??= new Promise<void>((resolve) => {
      this.endRecovering = resolve;
    });
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.failingSaves > 0) return;
      const end = this.endRecovering;
      this.recovering = null;
      this.endRecovering = null;
      end?.();
    };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        resolve();
      }, ms);
      this.retryTimers.set(timer, resolve);
    });
  }

  private compactInBackground(): void {
    if (this.compacting || this.closed) return;
    this.compacting = this.compact().finally(() => {
      this.compacting = null;
    });
  }

  private async compact(): Promise<void> {
    const appends = this.appendsSinceCompact;
    const bytes = this.bytesSinceCompact;
    try {
      const result = await this.options.store.compact(this.options.docId);
      // Appends that landed while merging count towards the next merge.
      this.appendsSinceCompact -= appends;
      this.bytesSinceCompact -= bytes;
      this.snapshotBytes = result.bytes;
      this.options.logger.debug({ docId: this.options.docId, ...result }, "compacted update log");
    } catch (error) {
      // The log is intact; compaction is only an optimisation and runs again later.
      this.options.logger.error({ err: error, docId: this.options.docId }, "compaction failed");
    }
  }
}
