/**
 * Who the local user is to their peers: a display name and a caret colour,
 * both remembered per browser. `?name=Alice` in the page URL sets (and
 * remembers) the name, which is handy for sharing links and for tests.
 */

/** Mid-tone colours that keep white label text readable (WCAG AA for large text). */
export const USER_COLORS = [
  "#d93025", // red
  "#e8710a", // orange
  "#b06000", // amber
  "#188038", // green
  "#007b83", // teal
  "#1a73e8", // blue
  "#3949ab", // indigo
  "#8430ce", // purple
  "#c5221f", // crimson
  "#d01884", // pink
  "#5f6368", // grey
  "#0b8043", // emerald
] as const;

export const NAME_MAX_LENGTH = 40;
const nameKey = "cowrite.name";
const colorKey = "cowrite.color";

export interface Identity {
  name: string;
  color: string;
}

/** localStorage can be missing or throw (private mode, disabled storage); identity then lasts for the page. */
export type KeyValueStore = Pick<Storage, "getItem" | "setItem">;

export function loadIdentity(
  store: KeyValueStore | null,
  search: string,
  random: () => number = Math.random,
): Identity {
  const fromUrl = cleanName(new URLSearchParams(search).get("name") ?? "");
  let name = fromUrl || cleanName(read(store, nameKey) ?? "");
  if (fromUrl || !name) {
    name ||= `Guest ${1000 + Math.floor(random() * 9000)}`;
    write(store, nameKey, name);
  }
  let color = read(store, colorKey) ?? "";
  if (!(USER_COLORS as readonly string[]).includes(color)) {
    color = USER_COLORS[Math.floor(random() * USER_COLORS.length)] ?? USER_COLORS[0];
    write(store, colorKey, color);
  }
  return { name, color };
}

export function saveDisplayName(store: KeyValueStore | null, name: string): string | null {
  const cleaned = cleanName(name);
  if (!cleaned) return null;
  write(store, nameKey, cleaned);
  return cleaned;
}

/** Collapses whitespace and bounds the length so a name fits on a caret label. */
export function cleanName(name: string): string {
  return name.replace(/\s+/g, " ").trim().slice(0, NAME_MAX_LENGTH);
}

/** The browser's localStorage, or null where touching it throws. */
export function browserStore(): KeyValueStore | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

function read(store: KeyValueStore | null, key: string): string | null {
  try {
    return store?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function write(store: KeyValueStore | null, key: string, value: string): void {
  try {
    store?.setItem(key, value);
  } catch {
    // Quota or privacy settings: the identity simply is not remembered.
  }
}
