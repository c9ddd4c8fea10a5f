/**
 * Distinct caret colours among the people in a document. Each person has a
 * preferred colour (remembered by the browser, or given by an embedder);
 * when someone present already shows the same or a similar one, one of the
 * two takes a free palette colour for this document. The tie-break is
 * deterministic, so two people never both switch: the one with the higher
 * awareness client id moves, the lower keeps its colour. Everyone applies
 * the rule to what it sees, so a crowd settles lowest id first.
 */
import { USER_COLORS } from "./identity.ts";

export interface ColorHolder {
  clientId: number;
  color: string;
}

export interface PickColorOptions {
  /** The colour published now. */
  current: string;
  /** The colour the user would like; taken again whenever a switch is due and it is free. */
  preferred: string;
  /** The local awareness client id. */
  selfId: number;
  /** The other people present. */
  others: readonly ColorHolder[];
  palette?: readonly string[];
}

/** CIE76 distance under which two colours are hard to tell apart on a caret (the palette's red and crimson are 6.6 apart). */
const SIMILAR_DISTANCE = 15;

/** The colour to publish: `current` unless a lower client id shows it (or a similar one). */
export function pickDistinctColor({
  current,
  preferred,
  selfId,
  others,
  palette = USER_COLORS,
}: PickColorOptions): string {
  const keepers = others.filter((other) => other.clientId < selfId);
  const clashesWithKeepers = (color: string): boolean =>
    keepers.some((other) => isSimilarColor(other.color, color));
  if (!clashesWithKeepers(current)) return current;
  const candidates = [preferred, ...palette];
  const free = candidates.find(
    (color) => !others.some((other) => isSimilarColor(other.color, color)),
  );
  // More people than colours: at least avoid those who keep theirs.
  return free ?? candidates.find((color) => !clashesWithKeepers(color)) ?? current;
}

/** Whether two CSS colours look alike; colours other than #rgb/#rrggbb only match by their text. */
export function isSimilarColor(a: string, b: string): boolean {
  const labA = toLab(a);
  const labB = toLab(b);
  if (labA === null || labB === null) return a.trim().toLowerCase() === b.trim().toLowerCase();
  const [l1, a1, b1] = labA;
  const [l2, a2, b2] = labB;
  return Math.hypot(l1 - l2, a1 - a2, b1 - b2) < SIMILAR_DISTANCE;
}

/** #rgb or #rrggbb to CIELAB (D65), or null. */
function toLab(color: string): [number, number, number] | null {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim())?.[1];
  if (hex === undefined) return null;
  const full = hex.length === 3 ? [...hex].map((digit) => digit + digit).join("") : hex;
  const value = Number.parseInt(full, 16);
  const [r, g, b] = [value >> 16, (value >> 8) & 0xff, value & 0xff].map((channel) => {
    const c = channel / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const x = (r * 0.4124 + g * 0.3576 + b * 0.1805) / 0.95047;
  const y = r * 0.2126 + g * 0.7152 + b * 0.0722;
  const z = (r * 0.0193 + g * 0.1192 + b * 0.9505) / 1.08883;
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}
