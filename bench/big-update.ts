/**
 * The big document: one Yjs update of about 8 MB, typed as short runs at
 * random positions so it has many items (as a long-edited document does),
 * not one long string. Generating it takes tens of seconds, so it is cached
 * in bench/results/ keyed by its parameters and seed; workers read the file.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as Y from "yjs";
import type { BigDocParams } from "./params.ts";

const GENERATOR_VERSION = 2;
const RESULTS = path.resolve(import.meta.dirname, "results");
const WORDS = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor ";

export interface BigUpdate {
  file: string;
  bytes: number;
  /** Length of the text it produces. */
  textLength: number;
  stateVector: Uint8Array;
}

/** A small seeded PRNG (mulberry32), so the same seed gives the same document. */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(params: BigDocParams): Uint8Array {
  const random = prng(params.seed);
  // A seeded 32-bit client id like Yjs's own random ones (ids are in every
  // item, so their size matters), fixed so the update is reproducible.
  const doc = new Y.Doc();
  doc.clientID = Math.floor(random() * 2 ** 32);
  const text = doc.getText("text");
  const span = WORDS.length - params.runLength;
  for (let typed = 0; typed < params.characters; typed += params.runLength) {
    const from = Math.floor(random() * span);
    const run = WORDS.slice(from, from + params.runLength);
    text.insert(Math.floor(random() * (text.length + 1)), run);
  }
  return Y.encodeStateAsUpdate(doc);
}

/** Returns the cached update for these parameters, generating it first if needed. */
export function loadBigUpdate(params: BigDocParams): BigUpdate {
  // Bump GENERATOR_VERSION when generate() changes, so stale caches are not reused.
  const name = `bigdoc-v${GENERATOR_VERSION}-${params.characters}x${params.runLength}-seed${params.seed}`;
  const file = path.join(RESULTS, `${name}.bin`);
  const metaFile = path.join(RESULTS, `${name}.json`);
  if (existsSync(file) && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, "utf8")) as {
      bytes: number;
      textLength: number;
      stateVector: string;
    };
    return {
      file,
      bytes: meta.bytes,
      textLength: meta.textLength,
      stateVector: new Uint8Array(Buffer.from(meta.stateVector, "base64")),
    };
  }
  process.stderr.write(`[bench] generating the big document (${name}), cached afterwards...\n`);
  const update = generate(params);
  const check = new Y.Doc();
  Y.applyUpdate(check, update);
  const stateVector = Y.encodeStateVector(check);
  const textLength = check.getText("text").length;
  mkdirSync(RESULTS, { recursive: true });
  // Write then rename, so an interrupted run never leaves a truncated cache.
  writeFileSync(`${file}.tmp`, update);
  renameSync(`${file}.tmp`, file);
  writeFileSync(
    metaFile,
    `${JSON.stringify({ bytes: update.byteLength, textLength, stateVector: Buffer.from(stateVector).toString("base64") })}\n`,
  );
  return { file, bytes: update.byteLength, textLength, stateVector };
}
