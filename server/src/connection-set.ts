/**
 * The server's open connections, counted per document too, so admission can
 * enforce per-document limits and /api/stats can report them without a scan.
 */
import type { Connection } from "./connection.ts";

export class ConnectionSet implements Iterable<Connection> {
  private readonly all = new Set<Connection>();
  private readonly byDoc = new Map<string, number>();

  get size(): number {
    return this.all.size;
  }

  countFor(docId: string): number {
    return this.byDoc.get(docId) ?? 0;
  }

  add(connection: Connection): void {
    this.all.add(connection);
    this.byDoc.set(connection.docId, this.countFor(connection.docId) + 1);
  }

  delete(connection: Connection): void {
    if (!this.all.delete(connection)) return;
    const left = this.countFor(connection.docId) - 1;
    if (left > 0) this.byDoc.set(connection.docId, left);
    else this.byDoc.delete(connection.docId);
  }

  [Symbol.iterator](): Iterator<Connection> {
    return this.all[Symbol.iterator]();
  }
}
