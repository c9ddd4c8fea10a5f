/**
 * The cost of accepting one update, in process: Cowrite checks every update
 * whole before it applies it (server/src/update-check.ts); the reference
 * server applies it as it comes. Both apply the same recorded typing
 * session (single characters and short runs at random places in a document
 * of `baseCharacters`, a few deletions), in alternating rounds, to a fresh
 * copy of the base document each round.
 */
import * as Y from "yjs";
import { checkUpdate } from "../../server/src/update-check.ts";
import type { AcceptParams } from "../params.ts";
import type { ScenarioResult } from "../scenario.ts";
import type { ServerKind } from "../servers.ts";

export async function runAcceptPaired(
  params: AcceptParams,
  kinds: readonly ServerKind[],
): Promise<Partial<Record<ServerKind, ScenarioResult>>> {
  const { base, updates } = recordSession(params);
  const accept: Record<ServerKind, (doc: Y.Doc, update: Uint8Array) => void> = {
    cowrite: (doc, update) => {
      checkUpdate(doc, update);
      Y.applyUpdate(doc, update);
    },
    reference: (doc, update) => Y.applyUpdate(doc, update),
  };
  const times = Object.fromEntries(kinds.map((kind) => [kind, [] as number[]])) as Record<
    ServerKind,
    number[]
  >;
  for (let round = 0; round < params.rounds; round++) {
    const order = round % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, base);
      const started = performance.now();
      for (const update of updates) accept[kind](doc, update);
      times[kind].push(((performance.now() - started) * 1000) / updates.length);
      doc.destroy();
    }
  }
  const results: Partial<Record<ServerKind, ScenarioResult>> = {};
  for (const kind of kinds) {
    const sorted = [...times[kind]].sort((a, b) => a - b);
    results[kind] = {
      measurements: [
        {
          metric: "accept one typing update (check + apply, in process)",
          unit: "µs",
          value: sorted[Math.floor(sorted.length / 2)] ?? null,
        },
      ],
      load: [],
      integrity: { lost: 0, divergent: 0 },
      notes: [],
      problems: [],
    };
  }
  return results;
}

/** A base document and the updates of a typing session on top of it. */
function recordSession(params: AcceptParams): { base: Uint8Array; updates: Uint8Array[] } {
  let seed = params.seed >>> 0;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const writer = new Y.Doc();
  const text = writer.getText("t");
  for (let i = 0; i < params.baseCharacters; i += 32) {
    text.insert(Math.floor(random() * text.length), "the quick brown fox jumps over. ");
  }
  const base = Y.encodeStateAsUpdate(writer);
  const updates: Uint8Array[] = [];
  writer.on("update", (update: Uint8Array) => updates.push(update));
  while (updates.length < params.updates) {
    if (random() < 0.05 && text.length > 10)
      text.delete(Math.floor(random() * (text.length - 5)), 3);
    else text.insert(Math.floor(random() * text.length), random() < 0.8 ? "x" : "word ");
  }
  return { base, updates };
}
