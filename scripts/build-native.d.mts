/** Builds the release-memory addon at `output`; null on success, else why not. */
export declare function buildMemoryAddon(output: string): string | null;
