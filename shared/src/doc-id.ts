/**
 * Document ids travel in URLs (`/d/<id>`, `/ws/<id>`) and storage keys, so
 * they are limited to URL-safe characters and a bounded length.
 */
export const DOC_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const DOC_ID_MAX_LENGTH = 64;

export function isValidDocId(id: string): boolean {
  return DOC_ID_PATTERN.test(id);
}

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A random 12-character id (about 62 bits) from a CSPRNG. */
export function generateDocId(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  let id = "";
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}
