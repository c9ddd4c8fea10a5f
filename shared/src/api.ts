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
  /** Pass as `?cursor=` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Query of `GET /api/documents`. */
export interface ListDocumentsQuery {
  /** Page size, 1-1000 (default 100). */
  limit?: number;
  /** Only titles containing this, ignoring case. */
  q?: string;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** A saved version of a document (`GET /api/documents/:id/versions`). */
export interface DocumentVersion {
  id: number;
  /** Set for a version saved by name; null for an automatic one. */
  name: string | null;
  /** ISO 8601. */
  createdAt: string;
  /** Who edited since the version before. */
  authors: string[];
  /** Size of the stored state, in bytes. */
  bytes: number;
}

/** Body of `PATCH /api/documents/:id`. */
export interface UpdateDocumentBody {
  title: string;
}

export interface CreateDocumentBody {
  id?: string;
  /** Without one, an imported document is titled by its first heading. */
  title?: string;
  /** Content to start with, converted on the server (see IMPORT_FORMATS). */
  content?: ImportContent;
}

/** What `GET /api/documents/:id/export?format=` offers. */
export const EXPORT_FORMATS = ["markdown", "html", "text", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What `POST /api/documents` accepts as `content.format`; text is one paragraph per line. */
export const IMPORT_FORMATS = ["markdown", "html", "text"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportContent {
  format: ImportFormat;
  text: string;
}

/**
 * Largest `POST /api/documents` body, in bytes, content included (413
 * beyond). Converting is synchronous work on the server's event loop, about
 * 10 ms per kB of Markdown, and the Yjs form is about 25 times the text:
 * 256 KiB is a long document that still converts in a few seconds.
 */
export const CREATE_BODY_MAX_BYTES = 256 * 1024;

export interface ApiError {
  error: { code: string; message: string };
}

/** Name of the shared Y.Text holding a document's title. */
export const TITLE_FIELD = "title";
/** Name of the top-level Y.XmlText holding a document's content (Lexical's root). */
export const CONTENT_FIELD = "root";
/** Maximum title length the server stores in its index. */
export const TITLE_MAX_LENGTH = 200;
