/**
 * WebSocket close codes Cowrite's server uses, and what a client should do
 * about each. Codes 4000-4999 are application codes; their last three digits
 * mirror the HTTP status with the same meaning so they are easy to remember.
 */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;
/** Transient overload (server full, client not keeping up): retry later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_BAD_FRAME = 4400;
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NO_DOCUMENT = 4404;
export const CLOSE_RATE_LIMITED = 4429;

/**
 * The reason sent with 4401 when a token has expired (at connect or while
 * connected). Clients that can fetch a fresh token reconnect on it.
 */
export const TOKEN_EXPIRED_REASON = "token expired";

export interface CloseCodeInfo {
  /** Short machine-friendly name. */
  name: string;
  /** Default human-readable reason sent with the close frame. */
  reason: string;
  /** Whether a client should reconnect (with backoff) after this close. */
  retry: boolean;
}

const closeCodes: ReadonlyMap<number, CloseCodeInfo> = new Map([
  [CLOSE_NORMAL, { name: "normal", reason: "closed", retry: false }],
  [CLOSE_GOING_AWAY, { name: "going-away", reason: "server shutting down", retry: true }],
  [CLOSE_TOO_BIG, { name: "too-big", reason: "message too big", retry: true }],
  [CLOSE_INTERNAL_ERROR, { name: "internal-error", reason: "internal server error", retry: true }],
  [CLOSE_TRY_AGAIN_LATER, { name: "try-again-later", reason: "server busy", retry: true }],
  [CLOSE_BAD_FRAME, { name: "bad-frame", reason: "malformed message", retry: true }],
  [
    CLOSE_UNAUTHENTICATED,
    { name: "unauthenticated", reason: "authentication required", retry: false },
  ],
  [CLOSE_FORBIDDEN, { name: "forbidden", reason: "not allowed", retry: false }],
  [CLOSE_NO_DOCUMENT, { name: "no-document", reason: "document not found", retry: false }],
  [CLOSE_RATE_LIMITED, { name: "rate-limited", reason: "too many messages", retry: true }],
]);

export function describeCloseCode(code: number): CloseCodeInfo | undefined {
  return closeCodes.get(code);
}

/**
 * Whether a client should try to reconnect after the socket closed with `code`.
 * Unknown codes (including 1006, an abnormal drop) are treated as transient.
 */
export function shouldReconnect(code: number): boolean {
  return describeCloseCode(code)?.retry ?? true;
}
