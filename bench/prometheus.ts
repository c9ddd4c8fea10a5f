/**
 * Just enough of the Prometheus text format to read Cowrite's /metrics:
 * one quantile of a summary, and one unlabelled value.
 */

/** Parses one quantile of a Prometheus summary, e.g. name{quantile="0.99"} 0.0042. */
export function readSummaryQuantile(text: string, name: string, quantile: string): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const match = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = match[1] ?? "";
    if (!new RegExp(`(^|,)\\s*quantile="${quantile.replace(".", "\\.")}"`).test(labels)) continue;
    const value = Number(match[2]);
    return Number.isFinite(value) ? value : null;
  }
  return null;
}

/** Parses a metric line without labels, e.g. name_count 1234. */
export function readMetricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}\\s+(\\S+)`, "m").exec(text);
  const value = Number(match?.[1]);
  return match && Number.isFinite(value) ? value : null;
}
