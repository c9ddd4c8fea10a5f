/**
 * What versions cost in storage: `npm run bench:versions`.
 *
 * Builds a document as people write it (paragraphs typed a few characters
 * per update by three writers, Lexical's Yjs shape), stores it in SQLite,
 * compacts it, then keeps editing and saves a version after each round of
 * edits. Reports the compacted document's size, each version's size, and
 * how long saving one took. There
 * is no reference to compare with: @y/websocket-server keeps no versions.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CONTENT_FIELD } from "@cowrite/shared";
import * as Y from "yjs";
import { SqliteDocStore } from "../server/src/storage/sqlite.ts";

const PARAGRAPHS = Number(process.env.BENCH_PARAGRAPHS ?? 200);
const CHARS_PER_PARAGRAPH = 300;
const CHARS_PER_UPDATE = 8;
const VERSIONS = 20;
const DOC = "versions-bench";

/** Appends a paragraph typed in small updates; returns the updates. */
function typeParagraph(doc: Y.Doc, seed: number): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const capture = (update: Uint8Array) => updates.push(update);
  doc.on("update", capture);
  const root = doc.get(CONTENT_FIELD, Y.XmlText);
  const paragraph = new Y.XmlText();
  doc.transact(() => {
    root.insertEmbed(root.length, paragraph);
    paragraph.setAttribute("__type", "paragraph");
    const properties = new Y.Map<unknown>();
    paragraph.insertEmbed(0, properties);
    properties.set("__type", "text");
    properties.set("__format", 0);
  });
  const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod";
  for (let at = 0; at < CHARS_PER_PARAGRAPH; at += CHARS_PER_UPDATE) {
    const chunk = words.repeat(8).slice((at + seed) % 40, ((at + seed) % 40) + CHARS_PER_UPDATE);
    paragraph.insert(1 + at, chunk);
  }
  doc.off("update", capture);
  return updates;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cowrite-bench-versions-"));
  const file = path.join(dir, "cowrite.db");
  const store = new SqliteDocStore(file);
  try {
    const writers = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
    const live = new Y.Doc();
    let at = 1;
    const write = async (paragraphs: number, from: number) => {
      for (let p = 0; p < paragraphs; p++) {
        const writer = writers[(from + p) % writers.length] as Y.Doc;
        Y.applyUpdate(writer, Y.encodeStateAsUpdate(live, Y.encodeStateVector(writer)));
        for (const update of typeParagraph(writer, from + p)) {
          Y.applyUpdate(live, update);
          await store.append(DOC, update, { at: at++ });
        }
      }
    };
    await write(PARAGRAPHS, 0);
    const logUpdates = (await store.load(DOC)).length;
    await store.compact(DOC);
    const [compacted] = await store.load(DOC);
    const docBytes = compacted?.length ?? 0;

    const sizes: number[] = [];
    const times: number[] = [];
    for (let v = 0; v < VERSIONS; v++) {
      // A round of editing: 1% more paragraphs each time.
      await write(Math.max(1, Math.round(PARAGRAPHS / 100)), PARAGRAPHS + v);
      const started = performance.now();
      const saved = await store.saveVersion(DOC, {
        at: at++,
        name: null,
        authors: ["Ada", "Grace"],
        state: Y.encodeStateAsUpdate(live),
        keepAutomatic: 50,
      });
      times.push(performance.now() - started);
      sizes.push(saved.bytes);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
    say(`document: ${PARAGRAPHS} paragraphs, ${logUpdates} updates`);
    say(`compacted document: ${kb(docBytes)}`);
    say(
      `version: ${kb(mean(sizes))} on average (${(mean(sizes) / docBytes).toFixed(2)}x the compacted document)`,
    );
    say(
      `${VERSIONS} versions: ${kb(sizes.reduce((a, b) => a + b, 0))} stored (at most 50 automatic ones are kept per document)`,
    );
    say(
      `saving a version: ${mean(times).toFixed(1)} ms on average, ${Math.max(...times).toFixed(1)} ms at most`,
    );
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
