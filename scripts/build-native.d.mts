/** Builds the malloc-trim addon at `output`; null on success, else why not. */
export declare function buildMallocTrim(output: string): string | null;
