/**
 * The addon `npm run build:server` compiles next to the bundle
 * (server/native/release-memory.cc): V8's low-memory collection and glibc's
 * malloc_trim(0). Undefined where it was not built (no C++ compiler, not
 * Linux) or when running from source.
 */
import { createRequire } from "node:module";

export interface MemoryAddon {
  /** Collects all garbage and unmaps the V8 heap pages that frees. */
  lowMemoryNotification(): void;
  /** Returns glibc's free heap pages to the OS; true if any were. */
  mallocTrim(): boolean;
}

export function loadMemoryAddon(file = "./release-memory.node"): MemoryAddon | undefined {
  try {
    return createRequire(import.meta.url)(file) as MemoryAddon;
  } catch {
    return undefined;
  }
}
