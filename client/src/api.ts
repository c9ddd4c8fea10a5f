/** The HTTP API under /api (see shared/src/api.ts for the shapes). */
import type {
  ApiError,
  DocumentList,
  DocumentMeta,
  DocumentVersion,
  ImportContent,
  ListDocumentsQuery,
  UpdateDocumentBody,
} from "@cowrite/shared";

export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DocumentsApi {
  /** One page of the list, newest change first; pass `nextCursor` back for the next. */
  listDocuments(query?: ListDocumentsQuery): Promise<DocumentList>;
  createDocument(title?: string): Promise<DocumentMeta>;
  /** A new document with `content`, titled by its first heading. */
  importDocument(content: ImportContent): Promise<DocumentMeta>;
  getDocument(id: string): Promise<DocumentMeta>;
  renameDocument(id: string, title: string): Promise<DocumentMeta>;
  listVersions(id: string): Promise<DocumentVersion[]>;
  saveVersion(id: string, name: string): Promise<DocumentVersion>;
  /** A version with its whole state (a Yjs update). */
  getVersion(id: string, versionId: number): Promise<DocumentVersion & { state: Uint8Array }>;
  restoreVersion(id: string, versionId: number): Promise<void>;
  /** `keepalive` lets the request finish while the page is being closed. */
  deleteDocument(id: string, options?: { keepalive?: boolean }): Promise<void>;
}

export interface DocumentsApiOptions {
  /** Prefix for `/api`; defaults to this origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** The bearer token for every request, read per request; null sends none. */
  token?: () => string | null;
}

export function createDocumentsApi(options: DocumentsApiOptions = {}): DocumentsApi {
  const baseUrl = options.baseUrl ?? "";
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const readToken = options.token ?? (() => null);

  async function request<T>(path: string, init?: RequestInit): Promise<T> {
    const token = readToken();
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}/api${path}`, {
        ...init,
        headers: {
          accept: "application/json",
          ...(init?.body ? { "content-type": "application/json" } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      });
    } catch {
      throw new ApiRequestError(0, "network", "Cannot reach the server. Check your connection.");
    }
    if (response.status === 204) return undefined as T;
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (body as ApiError | null)?.error;
      throw new ApiRequestError(
        response.status,
        error?.code ?? "http",
        error?.message ?? `The server answered ${response.status}.`,
      );
    }
    return body as T;
  }

  return {
    listDocuments(query = {}) {
      const params = new URLSearchParams();
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.q) params.set("q", query.q);
      if (query.cursor) params.set("cursor", query.cursor);
      const search = params.toString();
      return request<DocumentList>(`/documents${search ? `?${search}` : ""}`);
    },
    createDocument(title) {
      return request<DocumentMeta>("/documents", {
        method: "POST",
        body: JSON.stringify(title === undefined ? {} : { title }),
      });
    },
    importDocument(content) {
      return request<DocumentMeta>("/documents", {
        method: "POST",
        body: JSON.stringify({ content }),
      });
    },
    getDocument(id) {
      return request<DocumentMeta>(`/documents/${encodeURIComponent(id)}`);
    },
    renameDocument(id, title) {
      const body: UpdateDocumentBody = { title };
      return request<DocumentMeta>(`/documents/${encodeURIComponent(id)}`, {
        method: "PATCH",
        body: JSON.stringify(body),
      });
    },
    async listVersions(id) {
      const list = await request<{ versions: DocumentVersion[] }>(
        `/documents/${encodeURIComponent(id)}/versions`,
      );
      return list.versions;
    },
    saveVersion(id, name) {
      return request<DocumentVersion>(`/documents/${encodeURIComponent(id)}/versions`, {
        method: "POST",
        body: JSON.stringify({ name }),
      });
    },
    async getVersion(id, versionId) {
      const found = await request<DocumentVersion & { state: string }>(
        `/documents/${encodeURIComponent(id)}/versions/${versionId}`,
      );
      const binary = atob(found.state);
      const state = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) state[i] = binary.charCodeAt(i);
      return { ...found, state };
    },
    async restoreVersion(id, versionId) {
      await request<unknown>(`/documents/${encodeURIComponent(id)}/versions/${versionId}/restore`, {
        method: "POST",
        body: "{}",
      });
    },
    deleteDocument(id, options = {}) {
      return request<void>(`/documents/${encodeURIComponent(id)}`, {
        method: "DELETE",
        keepalive: options.keepalive === true,
      });
    },
  };
}
