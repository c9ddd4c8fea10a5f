/**
 * Cluster mode without sticky routing for the HTTP fallback: a session
 * lives on the node that opened it (its Connection, its unsent frames), and
 * a request for it that a load balancer sends to another node is forwarded
 * there, body and answer streamed through. Nodes learn each other's URLs
 * from the cluster heartbeats (ADVERTISE_URL), so a request is only ever
 * forwarded to a node of this cluster, never to an address from the client.
 * A forwarded request carries `FORWARDED_HEADER` and is never forwarded again.
 */
import http from "node:http";
import https from "node:https";
import type { Logger } from "pino";

export const FORWARDED_HEADER = "x-cowrite-forwarded";

/** Hop-by-hop headers: they describe this connection, not the request. */
const hopByHop = new Set(["connection", "keep-alive", "proxy-connection", "upgrade", "te"]);

export function forwardToNode(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  nodeUrl: string,
  logger: Logger,
): void {
  const headers: http.OutgoingHttpHeaders = { [FORWARDED_HEADER]: "1" };
  for (const [name, value] of Object.entries(req.headers)) {
    if (!hopByHop.has(name) && value !== undefined) headers[name] = value;
  }
  const target = new URL(req.url ?? "/", nodeUrl);
  const request = target.protocol === "https:" ? https.request : http.request;
  const upstream = request(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on("error", (error) => {
    logger.warn({ err: error, node: nodeUrl }, "forwarding an HTTP fallback request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // The client retries a failed poll; a failed post makes it resync.
    res.statusCode = 502;
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({ error: "node_unreachable", message: "the session's node did not answer" }),
    );
  });
  // A client that gives up (a poll aborted) ends the forwarded request too.
  res.on("close", () => upstream.destroy());
  req.pipe(upstream);
}
