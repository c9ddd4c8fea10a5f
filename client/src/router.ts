/**
 * Client-side routes. The server returns index.html for `/` and `/d/<id>`,
 * so the SPA decides what to show from `location.pathname`.
 */
import { isValidDocId } from "@cowrite/shared";

export type Route =
  | { page: "list" }
  | { page: "document"; docId: string }
  | { page: "invalid-document"; docId: string }
  | { page: "not-found"; path: string };

/** A mounted page; `destroy()` removes it and everything it started. */
export interface Page {
  destroy(): void;
}

export function parseRoute(pathname: string): Route {
  if (pathname === "/" || pathname === "") return { page: "list" };
  const match = /^\/d\/([^/]*)\/?$/.exec(pathname);
  if (match) {
    let docId: string;
    try {
      docId = decodeURIComponent(match[1] ?? "");
    } catch {
      return { page: "invalid-document", docId: match[1] ?? "" };
    }
    return isValidDocId(docId) ? { page: "document", docId } : { page: "invalid-document", docId };
  }
  return { page: "not-found", path: pathname };
}

export function documentPath(docId: string): string {
  return `/d/${encodeURIComponent(docId)}`;
}
