/** Shapes of the HTTP API under `/api` (see README "HTTP API"). */

export interface DocumentMeta {
  id: string;
  title: string;
  /** ISO 8601 timestamps. */
  createdAt: string;
  updatedAt: string;
}

export interface DocumentList {
  documents: DocumentMeta[];
}

export interface CreateDocumentBody {
  id?: string;
  title?: string;
}

export interface ApiError {
  error: { code: string; message: string };
}

/** Name of the shared Y.Text holding a document's title. */
export const TITLE_FIELD = "title";
/** Maximum title length the server stores in its index. */
export const TITLE_MAX_LENGTH = 200;
