/**
 * The Host allowlist, against DNS rebinding: a page on evil.example can
 * make its own name resolve to 127.0.0.1, and the browser then sends that
 * page's requests and WebSockets to a loopback server as same-origin ones
 * (Origin and Host both say evil.example), so the Origin check lets them
 * through. Only the Host header gives them away. With auth off nothing else
 * stands in the way; with auth on it keeps the server from answering names
 * it was never meant to serve.
 */
export interface HostPattern {
  /** Lower-cased; IPv6 addresses in brackets, as in a Host header. */
  hostname: string;
  /** null: any port. */
  port: number | null;
}

/** What a server listening on loopback answers to by default. */
export const loopbackHosts: readonly HostPattern[] = [
  { hostname: "localhost", port: null },
  { hostname: "127.0.0.1", port: null },
  { hostname: "[::1]", port: null },
];

/** `name`, `name:port`, `[ipv6]` or `[ipv6]:port`; null for anything else. */
export function parseHost(value: string): HostPattern | null {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  const hostname = match?.[1];
  if (hostname === undefined) return null;
  const port = match?.[2] === undefined ? null : Number(match[2]);
  if (port !== null && port > 65535) return null;
  return { hostname: hostname.toLowerCase(), port };
}

/** Whether a request's Host header is on the list; a null list allows everything. */
export function isHostAllowed(
  header: string | undefined,
  allowed: readonly HostPattern[] | null,
): boolean {
  if (allowed === null) return true;
  const host = header === undefined ? null : parseHost(header);
  if (host === null) return false;
  return allowed.some(
    (pattern) =>
      pattern.hostname === host.hostname && (pattern.port === null || pattern.port === host.port),
  );
}

/** Whether a listen address (`HOST`) is reachable only from this machine. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
