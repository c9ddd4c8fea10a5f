/**
 * The process logger, and what must never reach it: access tokens. They
 * arrive in `?token=`, `Authorization` and `Sec-WebSocket-Protocol`; log
 * lines carry URLs through `redactUrl`, and the paths below are censored in
 * case an error or request object with such headers is ever logged whole.
 */
import pino, { type DestinationStream, type Level, type Logger } from "pino";

const redacted = "REDACTED";

const redactPaths = [
  // Node's HTTP parse errors carry the raw request bytes, query string and all.
  "err.rawPacket",
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["sec-websocket-protocol"]',
];

export function createLogger(
  options: { level: Level | "silent" },
  destination?: DestinationStream,
): Logger {
  const settings = {
    level: options.level,
    base: { service: "cowrite" },
    redact: { paths: redactPaths, censor: redacted },
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** The URL with the value of every query parameter named like `token` replaced. */
export function redactUrl(rawUrl: string): string {
  // An HTTP fallback session id is the session's credential (PROTOCOL.md §7).
  const url = rawUrl.replace(/^(\/http\/[^/?]+\/)[^/?]+/, `$1${redacted}`);
  const at = url.indexOf("?");
  if (at < 0) return url;
  // Parsed, not matched: `?%74oken=` is `token` to the query parser too.
  const params = new URLSearchParams(url.slice(at + 1));
  const kept = [...params].map(([key, value]) => [key, /token/i.test(key) ? redacted : value]);
  return `${url.slice(0, at)}?${new URLSearchParams(kept).toString()}`;
}
