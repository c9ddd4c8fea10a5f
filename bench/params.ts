/**
 * The two parameter sets: full (`npm run bench`, regenerates
 * docs/benchmarks.md, about 10 minutes on 2 cores) and smoke
 * (`npm run bench:smoke`, every scenario at toy size, checks only that it
 * works).
 */

export interface FanoutParams {
  documents: number;
  clientsPerDocument: number;
  /**
   * Clients per document that apply every update to a Y.Doc (and are
   * compared for convergence); the others only read the edit keys out of
   * the update bytes. Default: all of them.
   */
  replicasPerDocument?: number;
  editsPerSecond: number;
  /**
   * The same load, run and thrown away before the measured window: JIT
   * compilation in the server and in the load generator would otherwise be
   * charged to whichever server happens to run first.
   */
  warmupSeconds: number;
  /** Measured time per server, split into `rounds` alternating windows. */
  durationSeconds: number;
  rounds: number;
  drainTimeoutSeconds: number;
}

export interface LadderParams {
  clientsPerDocument: number;
  /** See FanoutParams. */
  replicasPerDocument: number;
  editsPerSecond: number;
  /** Documents per step, ascending. */
  documentSteps: number[];
  /** Unmeasured load before each step's window (see FanoutParams). */
  warmupSeconds: number;
  stepSeconds: number;
  drainTimeoutSeconds: number;
  /** A step fails when its latency p99 exceeds this. */
  p99LimitMs: number;
  /** Wall-clock budget per server; the ladder stops (and says so) when spent. */
  budgetSeconds: number;
}

export interface WritePathParams {
  documents: number;
  writersPerDocument: number;
  maxInFlight: number;
  durationSeconds: number;
  drainTimeoutSeconds: number;
}

export interface BigDocParams {
  /** Characters typed into the text, in short runs at random positions. */
  characters: number;
  runLength: number;
  seed: number;
  concurrentClients: number;
}

export interface IdleParams {
  /** Connections per level; each level runs on a fresh server. */
  levels: number[];
  /** Idle clients per document. */
  clientsPerDocument: number;
  /** Handshakes in flight at once, over all workers. */
  connectConcurrency: number;
  /** After closing: RSS counts as settled once it has not fallen for this long... */
  settleStableSeconds: number;
  /** ...or when this much time has passed. */
  settleMaxSeconds: number;
}

export interface PresenceParams {
  documents: number;
  clientsPerDocument: number;
  /** Caret moves (new presence states) per client per second. */
  updatesPerSecond: number;
  durationSeconds: number;
}

export interface AcceptParams {
  baseCharacters: number;
  updates: number;
  rounds: number;
  seed: number;
}

/** The server setups the cluster scenario compares (see scenarios/cluster.ts). */
export type ClusterSetupId = "sqlite-1" | "pg-1" | "pg-redis-1" | "pg-redis-3" | "reference";

export interface ClusterParams {
  /** Fan-out shape, as in FanoutParams; every client keeps a replica. */
  documents: number;
  clientsPerDocument: number;
  editsPerSecond: number;
  warmupSeconds: number;
  /** Measured time per setup, split into `rounds` alternating windows. */
  durationSeconds: number;
  rounds: number;
  drainTimeoutSeconds: number;
  /**
   * Afterwards, one window per setup at this edit rate, for latency alone:
   * at the full rate three nodes, PostgreSQL, Redis and the load generator
   * saturate two cores, and latency is then mostly waiting for a core.
   */
  lightEditsPerSecond: number;
  lightSeconds: number;
  setups: ClusterSetupId[];
}

export interface BenchParams {
  workers: number;
  fanout: FanoutParams;
  ladder: LadderParams;
  writePath: WritePathParams;
  bigdoc: BigDocParams;
  idle: IdleParams;
  presence: PresenceParams;
  accept: AcceptParams;
  cluster: ClusterParams;
  /** Hard ceiling on the whole run. */
  watchdogSeconds: number;
}

export const FULL: BenchParams = {
  workers: 3,
  fanout: {
    documents: 20,
    clientsPerDocument: 10,
    editsPerSecond: 2,
    warmupSeconds: 5,
    durationSeconds: 30,
    rounds: 3,
    drainTimeoutSeconds: 15,
  },
  ladder: {
    clientsPerDocument: 10,
    replicasPerDocument: 2,
    editsPerSecond: 2,
    documentSteps: [10, 20, 40, 60, 80, 100, 130, 160, 200, 250, 320, 400, 500],
    warmupSeconds: 2,
    stepSeconds: 10,
    drainTimeoutSeconds: 10,
    p99LimitMs: 100,
    budgetSeconds: 200,
  },
  writePath: {
    documents: 4,
    writersPerDocument: 4,
    maxInFlight: 32,
    durationSeconds: 20,
    drainTimeoutSeconds: 15,
  },
  bigdoc: { characters: 4_000_000, runLength: 32, seed: 1, concurrentClients: 10 },
  idle: {
    levels: [1000, 5000, 10_000, 20_000],
    clientsPerDocument: 20,
    connectConcurrency: 64,
    // V8 hands freed heap pages back through its memory reducer, which acts
    // about 10-15 s after the last allocation: watch long enough to see it.
    settleStableSeconds: 16,
    settleMaxSeconds: 45,
  },
  presence: {
    documents: 2,
    clientsPerDocument: 40,
    updatesPerSecond: 10,
    durationSeconds: 15,
  },
  accept: { baseCharacters: 100_000, updates: 20_000, rounds: 6, seed: 1 },
  cluster: {
    // The fan-out shape above, so the single-node SQLite row compares with it.
    documents: 20,
    clientsPerDocument: 10,
    editsPerSecond: 2,
    warmupSeconds: 3,
    durationSeconds: 18,
    rounds: 3,
    drainTimeoutSeconds: 15,
    lightEditsPerSecond: 0.25,
    lightSeconds: 8,
    setups: ["sqlite-1", "pg-1", "pg-redis-1", "pg-redis-3", "reference"],
  },
  watchdogSeconds: 17 * 60,
};

export const SMOKE: BenchParams = {
  workers: 2,
  fanout: {
    documents: 2,
    clientsPerDocument: 3,
    editsPerSecond: 5,
    warmupSeconds: 1,
    durationSeconds: 2,
    rounds: 2,
    drainTimeoutSeconds: 5,
  },
  ladder: {
    clientsPerDocument: 3,
    replicasPerDocument: 2,
    editsPerSecond: 5,
    documentSteps: [1, 2],
    warmupSeconds: 0,
    stepSeconds: 1.5,
    drainTimeoutSeconds: 5,
    p99LimitMs: 100,
    budgetSeconds: 20,
  },
  writePath: {
    documents: 2,
    writersPerDocument: 2,
    maxInFlight: 8,
    durationSeconds: 1.5,
    drainTimeoutSeconds: 5,
  },
  bigdoc: { characters: 100_000, runLength: 32, seed: 1, concurrentClients: 3 },
  idle: {
    levels: [200],
    clientsPerDocument: 20,
    connectConcurrency: 16,
    settleStableSeconds: 1,
    settleMaxSeconds: 3,
  },
  presence: {
    documents: 1,
    clientsPerDocument: 4,
    updatesPerSecond: 5,
    durationSeconds: 2,
  },
  accept: { baseCharacters: 2_000, updates: 500, rounds: 2, seed: 1 },
  cluster: {
    // One client per node per document: every delivery crosses nodes.
    documents: 2,
    clientsPerDocument: 3,
    editsPerSecond: 5,
    warmupSeconds: 0,
    durationSeconds: 1.5,
    rounds: 1,
    drainTimeoutSeconds: 5,
    lightEditsPerSecond: 0,
    lightSeconds: 0,
    setups: ["pg-redis-3"],
  },
  watchdogSeconds: 150,
};
