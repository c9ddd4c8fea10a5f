/**
 * Turns per-server measurements into comparison rows, the console table and
 * the JSON result file. docs-page.ts renders the same data as
 * docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BenchParams } from "./params.ts";
import type { Integrity, LoadPhase, Measurement } from "./scenario.ts";
import type { ServerKind } from "./servers.ts";
import type { TargetResult } from "./targets.ts";

export interface Row {
  metric: string;
  unit: string;
  cowrite: number | null;
  reference: number | null;
  /** cowrite / reference, same run. */
  ratio: number | null;
}

export interface RunInfo {
  mode: "full" | "smoke";
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  wallSeconds: number;
  parameters: BenchParams;
  /** Idle levels -> connections attempted (the open-file limit may cap the top one). */
  idleConnections: Record<string, number>;
  /** Open-file limit of each child process. */
  fdLimit: number;
  loadGenerator: { workers: number; phases: Record<ServerKind, LoadPhase[]> };
  integrity: Record<ServerKind, Integrity>;
  notes: string[];
  failures: string[];
  details: Record<string, Partial<Record<ServerKind, unknown>>>;
}

export function buildRows(results: Record<ServerKind, Measurement[]>): Row[] {
  const rows: Row[] = [];
  for (const m of results.cowrite) {
    const ref = results.reference.find((r) => r.metric === m.metric);
    rows.push(makeRow(m.metric, m.unit, m.value, ref?.value ?? null));
  }
  for (const r of results.reference) {
    if (!rows.some((row) => row.metric === r.metric)) {
      rows.push(makeRow(r.metric, r.unit, null, r.value));
    }
  }
  return rows;
}

function makeRow(
  metric: string,
  unit: string,
  cowrite: number | null,
  reference: number | null,
): Row {
  const clean = (v: number | null) => (v === null || Number.isNaN(v) ? null : v);
  const c = clean(cowrite);
  const r = clean(reference);
  const ratio = c !== null && r !== null && r !== 0 ? c / r : null;
  return { metric, unit, cowrite: c, reference: r, ratio };
}

export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "n/a";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| metric | cowrite | reference | ratio (cowrite/reference) |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const name = row.unit ? `${row.metric} (${row.unit})` : row.metric;
    lines.push(`| ${name} | ${fmt(row.cowrite)} | ${fmt(row.reference)} | ${fmt(row.ratio)} |`);
  }
  return lines.join("\n");
}

export function writeJson(
  file: string,
  info: RunInfo,
  rows: readonly Row[],
  targets: readonly TargetResult[],
): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...info, rows, targets }, null, 2)}\n`);
}
