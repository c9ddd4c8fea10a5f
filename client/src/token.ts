/**
 * The access token a page was opened with (`?token=JWT`), and what the UI may
 * learn from it.
 *
 * Where the token lives: it is read once from the page URL, then kept in
 * sessionStorage (which browsers already scope to this origin and this tab)
 * and removed from the address bar. So in-app navigation, the list's links
 * and reloads keep working without `?token=` in every link, while the token
 * does not end up in copied links, bookmarks or the history: a token carries
 * its holder's name and rights, so forwarding it would let someone else act
 * as them. A new tab opened by hand needs the link with the token again.
 *
 * Claims are decoded without verifying the signature: the server checks
 * every token on every connection and request; the client only uses `perm`
 * and `name` to shape the UI (a viewer gets no editing controls).
 */
import { CLOSE_UNAUTHENTICATED } from "@cowrite/shared";
import type { KeyValueStore } from "./identity.ts";

const tokenKey = "cowrite.token";

export interface TokenClaims {
  /** `read` tokens may view but never edit; anything else is treated as `write`. */
  permission: "read" | "write";
  /**
   * The name the server stamps on this user's presence: `name`, else `sub`
   * (as the server does). Null when the token has neither.
   */
  name: string | null;
  /** The token's `sub`: who the user is, whatever they are called. Null without one. */
  subject: string | null;
}

/**
 * The token from `search` (a `location.search`), remembered in `store`; or
 * the remembered one when the URL has none. Null when there is neither.
 */
export function loadToken(store: KeyValueStore | null, search: string): string | null {
  const fromUrl = new URLSearchParams(search).get("token")?.trim() ?? "";
  if (fromUrl) {
    try {
      store?.setItem(tokenKey, fromUrl);
    } catch {
      // Storage refused: the token lasts while this page stays loaded.
    }
    return fromUrl;
  }
  try {
    return store?.getItem(tokenKey) || null;
  } catch {
    return null;
  }
}

/** The browser's sessionStorage, or null where touching it throws. */
export function sessionStore(): KeyValueStore | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

/** Reads a JWT's payload (base64url JSON). Null for anything that is not a readable JWT. */
export function decodeTokenClaims(token: string | null): TokenClaims | null {
  const payload = token?.split(".")[1];
  if (payload === undefined || payload === "") return null;
  let claims: unknown;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    claims = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return null;
  const { perm, name, sub } = claims as Record<string, unknown>;
  return {
    permission: perm === "read" ? "read" : "write",
    name: asName(name) ?? asName(sub),
    subject: typeof sub === "string" && sub !== "" ? sub : null,
  };
}

function asName(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/**
 * A sentence for a refused token, from the HTTP status or WebSocket close
 * code (401/4401: no valid token; 403/4403: valid, but not for this) and the
 * server's reason.
 */
export function describeAccessError(code: number, reason: string): string {
  const unauthenticated = code === 401 || code === CLOSE_UNAUTHENTICATED;
  const heading = unauthenticated ? "Sign-in required" : "Access denied";
  const hint = unauthenticated
    ? " Open the link you were given, with its access token, again."
    : "";
  return `${heading}: ${reason.replace(/[.\s]+$/, "")}.${hint}`;
}

/**
 * Whose copy of a document this device keeps (see local-copy.ts): the
 * token's subject; "anonymous" without a token (auth off: everyone may
 * read everything anyway). Null for a token without a subject: there is no
 * telling its holder from another, so such a page keeps no copy.
 */
export function localCopyUser(token: string | null): string | null {
  if (token === null) return "anonymous";
  return decodeTokenClaims(token)?.subject ?? null;
}
