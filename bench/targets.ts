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

/**
 * The ladder ratio, read with its stop reasons. A ladder stopped by its own
 * load generator found a lower bound for that server: Cowrite's bound raises
 * the ratio's floor, the reference's lowers its ceiling. So "met" needs an
 * unbounded reference (or none saturated), "not met" an unbounded Cowrite;
 * anything else is inconclusive and says why.
 */
function ladderLevelTarget(
  rows: readonly Row[],
  saturated: Partial<Record<ServerKind, boolean>>,
): TargetResult {
  const result = ratioTarget(
    rows,
    "ladder: highest sustained level (p99 ≤ 100 ms)",
    "ladder highest sustained level",
    { min: 1.5 },
  );
  if (result.met === null) return result;
  const bounded = (["cowrite", "reference"] as const).filter((kind) => saturated[kind]);
  if (bounded.length === 0) return result;
  const conclusive = result.met ? !saturated.reference : !saturated.cowrite;
  return {
    ...result,
    met: conclusive ? result.met : null,
    note:
      `load generator saturated in the ${bounded.join(" and ")} ladder${bounded.length > 1 ? "s" : ""}, so ` +
      `${bounded.length > 1 ? "both levels are lower bounds" : "that level is a lower bound"}` +
      `${conclusive ? "" : ": inconclusive"}`,
  };
}

/** The two ladders' top steps may differ, and CPU per delivery falls with load: say which. */
function topStepsNote(rows: readonly Row[]): string {
  const level = rows.find((r) => r.metric === "ladder highest sustained level");
  if (!level) return "";
  return `top steps: cowrite ${fmt(level.cowrite)} clients, reference ${fmt(level.reference)} clients`;
}

export function evaluateTargets(inputs: TargetInputs): TargetResult[] {
  const { rows } = inputs;
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
      topStepsNote(rows),
    ),
    ratioTarget(rows, `fan-out latency p99 at ${inputs.fanoutShape}`, "fanout latency p99", {
      max: 1.0,
    }),
    ladderLevelTarget(rows, inputs.ladderSaturated),
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
    // n/a: not measured in this run, or inconclusive (the note says which).
    lines.push(
      `| ${t.target} | ${t.threshold} | ${fmt(t.cowrite)} | ${fmt(t.reference)} | ${fmt(t.measured)} | ${met} | ${t.note} |`,
    );
  }
  return lines.join("\n");
}
