/**
 * The targets, evaluated on one run's rows. Ratios are
 * cowrite / reference from the same run; "met" is computed, never edited.
 */
import { fmt, type Row } from "./report.ts";
import type { Integrity } from "./scenario.ts";
import type { ServerKind } from "./servers.ts";

export interface TargetResult {
  target: string;
  /** e.g. "≤ 0.6" */
  threshold: string;
  cowrite: number | null;
  reference: number | null;
  /** The figure compared with the threshold (usually the ratio). */
  measured: number | null;
  /** null when it could not be measured in this run (e.g. smoke parameters). */
  met: boolean | null;
  note: string;
}

export interface TargetInputs {
  rows: readonly Row[];
  integrity: Record<ServerKind, Integrity>;
  problems: Record<ServerKind, number>;
  /** Ladder stops caused by the load generator, per server. */
  ladderSaturated: Partial<Record<ServerKind, boolean>>;
  fanoutShape: string;
  concurrentClients: number;
}

function ratioTarget(
  rows: readonly Row[],
  target: string,
  metric: string,
  limit: { max?: number; min?: number },
  note = "",
): TargetResult {
  const row = rows.find((r) => r.metric === metric);
  const ratio = row?.ratio ?? null;
  const met =
    ratio === null
      ? null
      : limit.max !== undefined
        ? ratio <= limit.max
        : ratio >= (limit.min ?? Number.NEGATIVE_INFINITY);
  return {
    target,
    threshold: limit.max !== undefined ? `ratio ≤ ${limit.max}` : `ratio ≥ ${limit.min}`,
    cowrite: row?.cowrite ?? null,
    reference: row?.reference ?? null,
    measured: ratio,
    met,
    note: row ? note : `${note}${note ? "; " : ""}metric not measured in this run`,
  };
}

export function evaluateTargets(inputs: TargetInputs): TargetResult[] {
  const { rows } = inputs;
  const saturated = (Object.entries(inputs.ladderSaturated) as Array<[ServerKind, boolean]>)
    .filter(([, s]) => s)
    .map(([kind]) => kind);
  const ladderNote =
    saturated.length > 0
      ? `load generator saturated during the ${saturated.join(" and ")} ladder: that level is a lower bound`
      : "";

  // Worst idle level: RSS after all closed relative to RSS at start (cowrite).
  const afterClose = rows.filter(
    (r) => r.metric.startsWith("idle ") && r.metric.endsWith("RSS after close / at start"),
  );
  const worst = afterClose.reduce<Row | null>(
    (w, r) => (r.cowrite !== null && (w === null || (w.cowrite ?? 0) < r.cowrite) ? r : w),
    null,
  );
  const worstRatio = worst?.cowrite === null || worst === null ? null : worst.cowrite / 100;

  const broken = (kind: ServerKind) =>
    inputs.integrity[kind].lost + inputs.integrity[kind].divergent + inputs.problems[kind];

  return [
    ratioTarget(rows, "fan-out server CPU per delivered update", "fanout server CPU per delivery", {
      max: 0.6,
    }),
    ratioTarget(
      rows,
      "ladder: server CPU per delivered update at the top sustained step",
      "ladder server CPU per delivery at top step",
      { max: 0.6 },
    ),
    ratioTarget(rows, `fan-out latency p99 at ${inputs.fanoutShape}`, "fanout latency p99", {
      max: 1.0,
    }),
    ratioTarget(
      rows,
      "ladder: highest sustained level (p99 ≤ 100 ms)",
      "ladder highest sustained level",
      { min: 1.5 },
      ladderNote,
    ),
    ratioTarget(rows, "idle: RSS per connection at 10k", "idle 10k: RSS per connection", {
      max: 0.7,
    }),
    {
      target: "idle: cowrite RSS after all connections close, vs at start",
      threshold: "≤ 1.10 (within 10%)",
      cowrite: worstRatio,
      reference: null,
      measured: worstRatio,
      met: worstRatio === null ? null : worstRatio <= 1.1,
      note: worst ? `worst level: ${worst.metric.split(":")[0]}` : "not measured",
    },
    ratioTarget(
      rows,
      "bigdoc: cold load after restart (received)",
      "bigdoc cold load after restart: received",
      { max: 0.5 },
    ),
    ratioTarget(
      rows,
      `bigdoc: ${inputs.concurrentClients} simultaneous fresh clients (all received)`,
      `bigdoc warm, ${inputs.concurrentClients} clients at once: all received`,
      { max: 0.3 },
      inputs.concurrentClients === 10 ? "" : "smoke size, not 10 clients",
    ),
    {
      target: "zero divergence, lost updates or dropped clients in every scenario",
      threshold: "= 0",
      cowrite: broken("cowrite"),
      reference: broken("reference"),
      measured: broken("cowrite"),
      met: broken("cowrite") === 0,
      note: "counts for cowrite; the reference's are shown for comparison",
    },
  ];
}

export function targetsTable(results: readonly TargetResult[]): string {
  const lines = [
    "| target | threshold | cowrite | reference | measured | met | note |",
    "| --- | --- | ---: | ---: | ---: | --- | --- |",
  ];
  for (const t of results) {
    const met = t.met === null ? "n/a" : t.met ? "met" : "**not met**";
    lines.push(
      `| ${t.target} | ${t.threshold} | ${fmt(t.cowrite)} | ${fmt(t.reference)} | ${fmt(t.measured)} | ${met} | ${t.note} |`,
    );
  }
  return lines.join("\n");
}
