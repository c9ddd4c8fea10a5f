/**
 * The auth seam: decides, before any room state exists, who a client is and
 * what it may do with which document.
 *
 * `Authorize` takes the bearer token (or null) and the document id the
 * client asks for, and resolves to an `Access` or throws `AuthError` whose
 * `closeCode` is 4401 (no/invalid/expired token) or 4403 (valid token, not
 * for this document or operation). Two implementations:
 * - `openAccess`: auth off; everyone may read and write everything.
 * - `createTokenAuth`: signed JWTs (jose), HS256 with a shared secret or an
 *   asymmetric public key. Claims: `sub` (user id), `name` (display name),
 *   `doc` (a document id, a prefix ending in `*`, or `*`), `perm`
 *   (`read` | `write`) and `exp`.
 */
import { CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, TOKEN_EXPIRED_REASON } from "@cowrite/shared";
import * as jose from "jose";

export type Permission = "read" | "write";

export interface Access {
  /** The authenticated user, or null when auth is off. */
  user: { id: string; name: string } | null;
  permission: Permission;
  /** Which documents the credential covers: an id, `prefix*` or `*`. */
  docPattern: string;
  /** When the credential stops being valid (ms since epoch), if ever. */
  expiresAt: number | null;
}

export class AuthError extends Error {
  override name = "AuthError";
  constructor(
    readonly closeCode: typeof CLOSE_UNAUTHENTICATED | typeof CLOSE_FORBIDDEN,
    message: string,
  ) {
    super(message);
  }

  get httpStatus(): 401 | 403 {
    return this.closeCode === CLOSE_UNAUTHENTICATED ? 401 : 403;
  }
}

/**
 * @param docId the document asked for, or null for operations on no single
 *   document (listing), which any valid credential may do (the caller filters).
 */
export type Authorize = (token: string | null, docId: string | null) => Promise<Access>;

export const openAccess: Authorize = async () => ({
  user: null,
  permission: "write",
  docPattern: "*",
  expiresAt: null,
});

/** Shortest HS256 secret accepted (RFC 7518 §3.2: at least the hash size). */
const minSecretBytes = 32;

export interface TokenAuthOptions {
  /** Shared secret for HS256, at least 32 bytes. */
  secret?: string | undefined;
  /** PEM (SPKI) public key for asymmetric tokens, with its algorithm. */
  publicKey?: { pem: string; algorithm: string } | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  now?: () => number;
}

const claimsSchema = {
  isString: (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 256,
};

export async function createTokenAuth(options: TokenAuthOptions): Promise<Authorize> {
  const now = options.now ?? Date.now;
  let key: Uint8Array | CryptoKey;
  let algorithms: string[];
  if (options.publicKey) {
    key = await jose.importSPKI(options.publicKey.pem, options.publicKey.algorithm);
    algorithms = [options.publicKey.algorithm];
  } else if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    // A short HS256 secret can be brute-forced from any one token.
    if (key.length < minSecretBytes) {
      throw new Error(`the token secret must be at least ${minSecretBytes} bytes`);
    }
    algorithms = ["HS256"];
  } else {
    throw new Error("token auth needs a secret or a public key");
  }

  return async (token, docId) => {
    if (!token) throw new AuthError(CLOSE_UNAUTHENTICATED, "authentication required: no token");
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, key, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        currentDate: new Date(now()),
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      if (error instanceof jose.errors.JWTExpired) {
        throw new AuthError(CLOSE_UNAUTHENTICATED, TOKEN_EXPIRED_REASON);
      }
      throw new AuthError(CLOSE_UNAUTHENTICATED, "invalid token");
    }
    const { sub, name, doc, perm, exp } = payload as Record<string, unknown>;
    if (!claimsSchema.isString(sub) || !claimsSchema.isString(doc)) {
      throw new AuthError(CLOSE_UNAUTHENTICATED, "invalid token: needs sub and doc claims");
    }
    if (perm !== "read" && perm !== "write") {
      throw new AuthError(CLOSE_UNAUTHENTICATED, "invalid token: perm must be read or write");
    }
    if (docId !== null && !matchesDoc(doc, docId)) {
      throw new AuthError(CLOSE_FORBIDDEN, `token does not grant access to document ${docId}`);
    }
    return {
      user: { id: sub, name: claimsSchema.isString(name) ? name : sub },
      permission: perm,
      docPattern: doc,
      expiresAt: typeof exp === "number" ? exp * 1000 : null,
    };
  };
}

/** `*` matches every id, `team-*` every id starting with `team-`, anything else itself. */
export function matchesDoc(pattern: string, docId: string): boolean {
  if (pattern.endsWith("*")) return docId.startsWith(pattern.slice(0, -1));
  return pattern === docId;
}

export interface MintOptions {
  secret: string;
  userId: string;
  name: string;
  doc: string;
  permission: Permission;
  /** Lifetime in seconds. */
  expiresIn: number;
  issuer?: string | undefined;
  audience?: string | undefined;
  now?: () => number;
}

/** Signs an HS256 token (for operators' `npm run token` and for tests). */
export async function mintToken(options: MintOptions): Promise<string> {
  const issuedAt = Math.floor((options.now ?? Date.now)() / 1000);
  let jwt = new jose.SignJWT({ name: options.name, doc: options.doc, perm: options.permission })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.userId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + options.expiresIn);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
