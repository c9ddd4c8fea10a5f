/**
 * Just enough of the Prometheus text format to read Cowrite's /metrics:
 * a quantile of a histogram, and one unlabelled value.
 */

/**
 * Estimates a quantile (0..1) of a Prometheus histogram from its cumulative
 * buckets, interpolating linearly inside the bucket (as PromQL's
 * histogram_quantile does). Null when the histogram is missing or empty.
 */
export function readHistogramQuantile(text: string, name: string, quantile: number): number | null {
  const buckets: Array<{ le: number; count: number }> = [];
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}\\s+(\\S+)`);
  for (const line of text.split("\n")) {
    const match = pattern.exec(line);
    if (!match) continue;
    const le = match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]);
    buckets.push({ le, count: Number(match[2]) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = quantile * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      // The +Inf bucket has no upper edge: report the last finite one.
      if (!Number.isFinite(bucket.le)) return lower;
      const inBucket = bucket.count - below;
      return lower + (bucket.le - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

/** Parses a metric line without labels, e.g. name_count 1234. */
export function readMetricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}\\s+(\\S+)`, "m").exec(text);
  const value = Number(match?.[1]);
  return match && Number.isFinite(value) ? value : null;
}
