/**
 * A room's versions: full states of the document kept in the store beside
 * its log (DocStore.saveVersion). Automatic ones are taken after a pause in
 * editing, and at least every `maxIntervalMs` while editing goes on, each
 * naming who edited since the one before; named ones when someone asks
 * ("Save version"). Nothing is taken for a document nobody changed.
 *
 * Versions are whole states, not Yjs history: the live document keeps its
 * garbage collection, and a version costs about the size of the document.
 */
import type { Logger } from "pino";
import { type DocStore, DocumentDeletedError, type VersionMeta } from "./storage/doc-store.ts";

export interface VersionPolicy {
  /** An automatic version is taken once editing has paused this long. */
  idleMs: number;
  /** While editing goes on, an automatic version at least this often. */
  maxIntervalMs: number;
  /** Automatic versions kept per document (named ones are always kept). */
  keepAutomatic: number;
}

export const defaultVersionPolicy: VersionPolicy = {
  idleMs: 60_000,
  maxIntervalMs: 10 * 60_000,
  keepAutomatic: 50,
};

export interface RoomVersionsOptions {
  docId: string;
  store: DocStore;
  logger: Logger;
  now: () => number;
  policy: VersionPolicy;
  /** The document's whole state now. */
  state: () => Uint8Array;
}

export class RoomVersions {
  /** Who edited since the last version. */
  private readonly authors = new Set<string>();
  /**
   * Monotonic times (performance.now) of the first edit since the last
   * version and of the latest one; null when nothing changed since.
   */
  private dirtySince: number | null = null;
  private lastEditAt = 0;
  /** One timer at a time: edits only move `lastEditAt`, the timer checks it. */
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: RoomVersionsOptions) {}

  /** A durable edit by `author` (a display name; null for the server's own). */
  edited(author: string | null): void {
    if (this.closed) return;
    if (author) this.authors.add(author);
    const now = performance.now();
    this.dirtySince ??= now;
    this.lastEditAt = now;
    if (this.timer === null) this.schedule(now);
  }

  /** When the next automatic version is due: after a pause, or at the end of the interval. */
  private dueAt(dirtySince: number): number {
    const { idleMs, maxIntervalMs } = this.options.policy;
    return Math.min(this.lastEditAt + idleMs, dirtySince + maxIntervalMs);
  }

  private schedule(now: number): void {
    if (this.dirtySince === null) return;
    this.timer = setTimeout(this.onTimer, Math.max(0, this.dueAt(this.dirtySince) - now));
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.closed || this.dirtySince === null) return;
    const now = performance.now();
    // Edited since the timer was set: the pause is not over yet.
    if (now < this.dueAt(this.dirtySince)) this.schedule(now);
    else void this.takeAutomatic();
  };

  /** Saves the document as it is now under `name`. */
  saveNamed(name: string, author: string | null): Promise<VersionMeta> {
    if (author) this.authors.add(author);
    return this.save(name);
  }

  /** Takes the automatic version still owed, then stops. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.closed && this.dirtySince !== null) await this.takeAutomatic();
    this.closed = true;
    await this.saving;
  }

  private async takeAutomatic(): Promise<void> {
    if (this.dirtySince === null) return;
    try {
      await this.save(null);
    } catch (error) {
      if (error instanceof DocumentDeletedError) return;
      this.options.logger.error({ err: error }, "saving an automatic version failed");
    }
  }

  private save(name: string | null): Promise<VersionMeta> {
    const authors = [...this.authors].sort();
    this.authors.clear();
    this.dirtySince = null;
    const saved = this.options.store.saveVersion(this.options.docId, {
      at: this.options.now(),
      name,
      authors,
      state: this.options.state(),
      keepAutomatic: this.options.policy.keepAutomatic,
    });
    this.saving = saved.catch(() => {});
    return saved;
  }
}
