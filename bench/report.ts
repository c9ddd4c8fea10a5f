/**
 * Turns per-server measurements into the comparison table, the JSON result
 * file and (for full runs) docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServerKind } from "./servers.ts";

export interface Measurement {
  metric: string;
  unit: string;
  /** null when the server could not produce the number (reported, not hidden). */
  value: number | null;
}

export interface Row {
  metric: string;
  unit: string;
  cowrite: number | null;
  reference: number | null;
  ratio: number | null;
}

export interface RunInfo {
  mode: "full" | "smoke";
  date: string;
  cpus: number;
  cpuModel: string;
  node: string;
  parameters: Record<string, unknown>;
  loadGenerator: Record<string, number>;
  failures: string[];
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
  const ratio =
    cowrite !== null && reference !== null && reference !== 0 ? cowrite / reference : null;
  return { metric, unit, cowrite, reference, ratio };
}

function fmt(value: number | null): string {
  if (value === null || Number.isNaN(value)) return "n/a";
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

export function writeJson(file: string, info: RunInfo, rows: readonly Row[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...info, rows }, null, 2)}\n`);
}

export function writeDocs(file: string, info: RunInfo, rows: readonly Row[]): void {
  const text = `# Benchmarks

Cowrite's sync server against the reference \`@y/websocket-server\` 0.1.1 (with
LevelDB persistence), same scenarios, same machine, one invocation. Numbers
are from one run; rerun before drawing fine conclusions.

How to run: \`npm run bench\` (full, rewrites this file and
\`bench/results/latest.json\`) or \`npm run bench:smoke\` (small parameters,
under a minute, writes only \`bench/results/smoke.json\`).

- Date: ${info.date}
- Machine: ${info.cpus} cores (${info.cpuModel}), ${os.platform()} ${os.arch()}
- Node: ${info.node}
- Parameters: \`${JSON.stringify(info.parameters)}\`
- Load generator (one process, both servers): \`${JSON.stringify(info.loadGenerator)}\`

${markdownTable(rows)}

## What the metrics mean

- **fanout**: D documents x C clients, each client edits R times a second.
  Latency runs from a client's local edit until every other client of that
  document has applied it (one clock, in the load generator). Server CPU is
  utime+stime from \`/proc/<pid>/stat\` over the edit window, divided by the
  number of updates delivered to clients. The run fails if any document's
  clients diverge or an edit is not delivered.
- **bigdoc**: one large update pushed to a fresh document, then time from
  connect to synced (step 2 applied) for one fresh client, for several at
  once, and for one client after restarting the server on the same data
  directory (cold load).
- **idle**: N idle synced clients; connect rate and the server's RSS growth
  per connection, and RSS after all have closed.

The load generator runs in one process; if its event-loop delay is high,
latencies include its own queueing, so the loadGenerator numbers are shown.
`;
  writeFileSync(file, text);
}
