/** Path of the addon's C source. */
export declare const MALLOC_TRIM_SOURCE: string;
/** Builds the malloc-trim addon at `output`; null on success, else why not. */
export declare function buildMallocTrim(output: string): string | null;
