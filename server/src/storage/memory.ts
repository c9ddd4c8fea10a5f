import {
  type AppendInfo,
  type CompactResult,
  type DocMeta,
  type DocStore,
  DocumentDeletedError,
  DocumentExistsError,
  type ListOptions,
  type NewVersion,
  type VersionMeta,
  versionMetaOf,
} from "./doc-store.ts";
import { mergeUpdateLog } from "./merge.ts";

/** In-memory DocStore for unit tests. Nothing survives the process. */
export class MemoryDocStore implements DocStore {
  private readonly docs = new Map<string, { meta: DocMeta; updates: Uint8Array[] }>();
  private readonly tombstones = new Set<string>();
  private readonly versions: { meta: VersionMeta; state: Uint8Array }[] = [];
  private nextVersionId = 1;
  /** Set to an Error to make every write fail (tests of failure handling). */
  failWrites: Error | null = null;

  async load(docId: string): Promise<Uint8Array[]> {
    return [...(this.docs.get(docId)?.updates ?? [])];
  }

  async append(docId: string, update: Uint8Array, info: AppendInfo): Promise<void> {
    if (this.failWrites) throw this.failWrites;
    this.refuseDeleted(docId);
    const entry = this.entry(docId, info.at);
    entry.updates.push(update.slice());
    entry.meta.updatedAt = info.at;
    if (info.title !== undefined) entry.meta.title = info.title;
    if (info.listed) entry.meta.listed = true;
  }

  async compact(docId: string): Promise<CompactResult> {
    const entry = this.docs.get(docId);
    const size = () => entry?.updates.reduce((sum, u) => sum + u.length, 0) ?? 0;
    if (!entry || entry.updates.length < 2) return { merged: 0, bytes: size() };
    const merged = entry.updates.length;
    entry.updates = [mergeUpdateLog(entry.updates)];
    return { merged, bytes: size() };
  }

  async ensure(docId: string, at: number): Promise<DocMeta> {
    this.refuseDeleted(docId);
    return { ...this.entry(docId, at).meta };
  }

  async create(meta: { id: string; title: string; at: number }): Promise<DocMeta> {
    if (this.docs.has(meta.id)) throw new DocumentExistsError(meta.id);
    this.tombstones.delete(meta.id);
    const entry = this.entry(meta.id, meta.at);
    entry.meta.title = meta.title;
    entry.meta.listed = true;
    return { ...entry.meta };
  }

  async get(docId: string): Promise<DocMeta | null> {
    const entry = this.docs.get(docId);
    return entry ? { ...entry.meta } : null;
  }

  async list(options: ListOptions): Promise<DocMeta[]> {
    const prefix = options.prefix ?? "";
    const query = options.query?.toLowerCase() ?? "";
    const { after } = options;
    return [...this.docs.values()]
      .map((entry) => ({ ...entry.meta }))
      .filter(
        (meta) =>
          meta.listed &&
          meta.id.startsWith(prefix) &&
          meta.title.toLowerCase().includes(query) &&
          (!after ||
            meta.updatedAt < after.updatedAt ||
            (meta.updatedAt === after.updatedAt && meta.id > after.id)),
      )
      .sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, options.limit);
  }

  async saveVersion(docId: string, version: NewVersion): Promise<VersionMeta> {
    if (this.failWrites) throw this.failWrites;
    this.refuseDeleted(docId);
    const meta = versionMetaOf(this.nextVersionId++, docId, version);
    this.versions.push({ meta, state: version.state.slice() });
    if (version.name === null) {
      const automatic = this.versions.filter((v) => v.meta.docId === docId && v.meta.name === null);
      for (const old of automatic.slice(0, Math.max(0, automatic.length - version.keepAutomatic))) {
        this.versions.splice(this.versions.indexOf(old), 1);
      }
    }
    return { ...meta };
  }

  async listVersions(docId: string, limit: number): Promise<VersionMeta[]> {
    return this.versions
      .filter((v) => v.meta.docId === docId)
      .map((v) => ({ ...v.meta, authors: [...v.meta.authors] }))
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
      .slice(0, limit);
  }

  async loadVersion(docId: string, versionId: number) {
    const found = this.versions.find((v) => v.meta.id === versionId && v.meta.docId === docId);
    return found ? { meta: { ...found.meta }, state: found.state.slice() } : null;
  }

  async delete(docId: string): Promise<boolean> {
    for (let i = this.versions.length - 1; i >= 0; i--) {
      if (this.versions[i]?.meta.docId === docId) this.versions.splice(i, 1);
    }
    const existed = this.docs.delete(docId);
    if (existed) this.tombstones.add(docId);
    return existed;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private refuseDeleted(docId: string): void {
    if (this.tombstones.has(docId)) throw new DocumentDeletedError(docId);
  }

  private entry(docId: string, at: number) {
    let entry = this.docs.get(docId);
    if (!entry) {
      entry = {
        meta: { id: docId, title: "", createdAt: at, updatedAt: at, listed: false },
        updates: [],
      };
      this.docs.set(docId, entry);
    }
    return entry;
  }
}
