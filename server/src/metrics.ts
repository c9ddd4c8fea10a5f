/**
 * Prometheus metrics, served at GET /metrics. One registry per server (no
 * global state), so tests can run several servers in one process.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry, Summary } from "prom-client";

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

export interface ServerMetrics extends RoomMetrics {
  readonly registry: Registry;
  /** The text exposition format, with its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createMetrics(gauges: {
  connections: () => number;
  documents: () => number;
}): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const durable = new Summary({
    name: "cowrite_update_durable_seconds",
    help: "Time from receiving a document update until it is durable in storage (over the last 60 s)",
    percentiles: [0.5, 0.9, 0.99, 0.999],
    maxAgeSeconds: 60,
    ageBuckets: 6,
    registers: [registry],
  });
  const sent = new Summary({
    name: "cowrite_update_broadcast_seconds",
    help: "Time from receiving a document update until it is sent to the other peers (over the last 60 s)",
    percentiles: [0.5, 0.9, 0.99, 0.999],
    maxAgeSeconds: 60,
    ageBuckets: 6,
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
    help: "Open WebSocket connections",
    registers: [registry],
    collect() {
      this.set(gauges.connections());
    },
  });
  new Gauge({
    name: "cowrite_open_documents",
    help: "Documents held in memory",
    registers: [registry],
    collect() {
      this.set(gauges.documents());
    },
  });
  return {
    registry,
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
