import { CLOSE_BAD_FRAME, encodeFrame } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import {
  connectProvider,
  corruptedUpdate,
  rawClient,
  seededRandom,
  startServer,
  tempDir,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MUTATIONS = 1000;

describe("corrupted updates", () => {
  it(`${MUTATIONS} updates that Yjs cannot decode leave the document byte-identical, in memory and on disk`, async () => {
    const dir = tempDir();
    let running = await startServer({ dir, limits: { maxMessagesPerSecond: 0 } });
    cleanups.push(() => running.stop());
    const writer = connectProvider(running.wsUrl, "target");
    cleanups.push(() => writer.provider.destroy());
    await whenSynced(writer.provider);
    writer.doc.getText("t").insert(0, "the base text, before any attack");
    const observer = connectProvider(running.wsUrl, "target");
    cleanups.push(() => observer.provider.destroy());
    await whenDoc(observer.doc, (doc) => doc.getText("t").length > 0);
    const base = Y.encodeStateAsUpdate(writer.doc);
    const changes: Uint8Array[] = [];
    observer.doc.on("update", (update: Uint8Array) => changes.push(update));

    const random = seededRandom(Number(process.env.CORRUPT_SEED ?? 7));
    for (let i = 0; i < MUTATIONS; i++) {
      const attacker = rawClient(`${running.wsUrl}/target`);
      await attacker.opened;
      attacker.ws.send(encodeFrame({ type: "update", update: corruptedUpdate(base, random) }));
      expect((await attacker.closed).code, `mutation ${i}`).toBe(CLOSE_BAD_FRAME);
    }

    // A barrier: the writer's next edit reaches the observer after every
    // attack was handled; nothing else may have come before it.
    writer.doc.getText("t").insert(0, "> ");
    await whenDoc(observer.doc, (doc) => doc.getText("t").toString().startsWith("> "));
    expect(changes).toHaveLength(1);
    const expected = "> the base text, before any attack";
    expect(observer.doc.getText("t").toString()).toBe(expected);
    const stateVector = Y.encodeStateVector(writer.doc);
    expect(Y.encodeStateVector(observer.doc)).toEqual(stateVector);

    writer.provider.destroy();
    observer.provider.destroy();
    await running.stop();
    running = await startServer({ dir });
    const fresh = connectProvider(running.wsUrl, "target");
    cleanups.push(() => fresh.provider.destroy());
    await whenSynced(fresh.provider);
    expect(fresh.doc.getText("t").toString()).toBe(expected);
    expect(Y.encodeStateVector(fresh.doc)).toEqual(stateVector);
  }, 120_000);
});
