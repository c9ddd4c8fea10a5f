/**
 * Prometheus metrics, served at GET /metrics. One registry per server (no
 * global state), so tests can run several servers in one process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Latency buckets (seconds), fine at the low end where durable commits live.
 * Histograms rather than summaries: an observation is a bucket increment,
 * far cheaper than a summary's t-digest insert on the update path, and
 * histograms aggregate across server processes.
 */
const latencyBuckets = [
  0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
  0.2, 0.5, 1, 2, 5,
];

/** What rooms report; a no-op implementation is used when metrics are off. */
export interface RoomMetrics {
  /** An update was received and, `seconds` later, is durable in storage. */
  updateDurable(seconds: number): void;
  /** An update was received and, `seconds` later, sent to the other peers. */
  updateBroadcast(seconds: number): void;
  /** One broadcast of `updates` merged changes went out as `frames` frames. */
  broadcast(updates: number, frames: number): void;
}

export const noMetrics: RoomMetrics = {
  updateDurable: () => {},
  updateBroadcast: () => {},
  broadcast: () => {},
};

/** What cluster mode reports (cluster/cluster.ts). */
export interface ClusterMetrics {
  /** Relaying a message to the other nodes failed. */
  relayFailed(): void;
  /** A document was read again from the store because relay messages may have been lost. */
  caughtUp(): void;
}

export const noClusterMetrics: ClusterMetrics = {
  relayFailed: () => {},
  caughtUp: () => {},
};

export interface ServerMetrics extends RoomMetrics, ClusterMetrics {
  readonly registry: Registry;
  /** The text exposition format, with its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(gauges: {
  connections: () => number;
  /** HTTP fallback sessions (each open one is also a connection). */
  httpSessions?: (() => number) | undefined;
  documents: () => number;
  /** Cluster mode: the nodes this one hears from, itself included. */
  clusterNodes?: (() => number) | undefined;
}): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const durable = new Histogram({
    name: "cowrite_update_durable_seconds",
    help: "Time from receiving a document update until it is durable in storage",
    buckets: latencyBuckets,
    registers: [registry],
  });
  const sent = new Histogram({
    name: "cowrite_update_broadcast_seconds",
    help: "Time from receiving a document update until it is sent to the other peers",
    buckets: latencyBuckets,
    registers: [registry],
  });
  const updates = new Counter({
    name: "cowrite_updates_broadcast_total",
    help: "Document updates broadcast to peers (after being made durable)",
    registers: [registry],
  });
  const frames = new Counter({
    name: "cowrite_update_frames_sent_total",
    help: "Update frames sent to peers; fewer than updates x peers when changes are merged",
    registers: [registry],
  });
  new Gauge({
    name: "cowrite_connections",
    help: "Open connections (WebSocket and HTTP fallback)",
    registers: [registry],
    collect() {
      this.set(gauges.connections());
    },
  });
  const httpSessions = gauges.httpSessions;
  if (httpSessions) {
    new Gauge({
      name: "cowrite_http_sessions",
      help: "HTTP fallback sessions (included in cowrite_connections while open)",
      registers: [registry],
      collect() {
        this.set(httpSessions());
      },
    });
  }
  new Gauge({
    name: "cowrite_open_documents",
    help: "Documents held in memory",
    registers: [registry],
    collect() {
      this.set(gauges.documents());
    },
  });
  const relayFailures = new Counter({
    name: "cowrite_relay_failures_total",
    help: "Messages this node could not relay to the other nodes (cluster mode; they catch up from storage)",
    registers: [registry],
  });
  const catchUps = new Counter({
    name: "cowrite_relay_catch_ups_total",
    help: "Documents read again from storage because relay messages may have been lost (cluster mode)",
    registers: [registry],
  });
  const clusterNodes = gauges.clusterNodes;
  if (clusterNodes) {
    new Gauge({
      name: "cowrite_cluster_nodes",
      help: "Nodes of the cluster this node hears from, itself included",
      registers: [registry],
      collect() {
        this.set(clusterNodes());
      },
    });
  }
  return {
    registry,
    relayFailed: () => relayFailures.inc(),
    caughtUp: () => catchUps.inc(),
    updateDurable: (seconds) => durable.observe(seconds),
    updateBroadcast: (seconds) => sent.observe(seconds),
    broadcast: (count, sent) => {
      updates.inc(count);
      frames.inc(sent);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
