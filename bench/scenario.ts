/**
 * What every scenario returns to run.ts: its measurements for the table,
 * the load generator's health while it measured, and its integrity counts
 * (lost updates, divergent documents), which must be zero everywhere.
 */
import type { LoadGenerator } from "./load-generator.ts";
import type { ServerKind } from "./servers.ts";
import type { LoadSample } from "./stats.ts";

export interface Measurement {
  metric: string;
  unit: string;
  /** null when the server could not produce the number (reported, not hidden). */
  value: number | null;
}

export interface LoadPhase {
  phase: string;
  /** Worst over the workers that took part. */
  sample: LoadSample;
  /** All cores' busy share while measuring (server, workers and anything else running). */
  machineBusyPercent?: number;
  /**
   * Share of all cores the hypervisor gave to other guests while measuring:
   * on a shared VM, latencies measured under heavy steal are not comparable
   * with those measured without it.
   */
  machineStealPercent?: number;
}

export interface Integrity {
  /** Updates that some client never applied. */
  lost: number;
  /** Documents whose clients ended with different content. */
  divergent: number;
}

export interface ScenarioResult {
  measurements: Measurement[];
  load: LoadPhase[];
  integrity: Integrity;
  /** Sentences for the docs page (e.g. why a ladder stopped). */
  notes: string[];
  /**
   * What went wrong without voiding the numbers (failed or dropped
   * connections): reported like lost updates, and the run exits non-zero.
   */
  problems: string[];
  /** Per-step tables and the like, kept in the JSON and shown in the docs. */
  details?: unknown;
}

export interface ScenarioContext {
  kind: ServerKind;
  loadGenerator: LoadGenerator;
}
