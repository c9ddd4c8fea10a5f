/**
 * glibc's malloc_trim(0), from the addon `npm run build:server` compiles
 * next to the bundle (server/native/malloc-trim.c), or undefined where it
 * was not built (no C compiler, not Linux) or when running from source.
 */
import { createRequire } from "node:module";

interface MallocTrimAddon {
  mallocTrim(): boolean;
}

export function loadMallocTrim(file = "./malloc-trim.node"): (() => boolean) | undefined {
  try {
    const addon = createRequire(import.meta.url)(file) as MallocTrimAddon;
    return () => addon.mallocTrim();
  } catch {
    return undefined;
  }
}
