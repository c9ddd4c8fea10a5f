/** The HTTP API under /api (see shared/src/api.ts for the shapes). */
import type { ApiError, DocumentList, DocumentMeta } from "@cowrite/shared";

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
  listDocuments(): Promise<DocumentMeta[]>;
  createDocument(title?: string): Promise<DocumentMeta>;
  getDocument(id: string): Promise<DocumentMeta>;
  deleteDocument(id: string): Promise<void>;
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
    async listDocuments() {
      const list = await request<DocumentList>("/documents");
      return list.documents;
    },
    createDocument(title) {
      return request<DocumentMeta>("/documents", {
        method: "POST",
        body: JSON.stringify(title === undefined ? {} : { title }),
      });
    },
    getDocument(id) {
      return request<DocumentMeta>(`/documents/${encodeURIComponent(id)}`);
    },
    deleteDocument(id) {
      return request<void>(`/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    },
  };
}
