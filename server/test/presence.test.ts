import { encodeAwarenessUpdate, encodeFrame } from "@cowrite/shared";
import { afterEach, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import type * as Y from "yjs";
import { connectProvider, type Running, rawClient, startServer, whenSynced } from "./helpers.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const running = await startServer(options);
  cleanups.push(() => running.stop());
  return running;
}

function provider(wsUrl: string, docId: string, doc?: Y.Doc) {
  const client = connectProvider(wsUrl, docId, doc);
  cleanups.push(() => client.provider.destroy());
  return client;
}

function client(url: string, options?: WebSocket.ClientOptions) {
  const c = rawClient(url, options);
  cleanups.push(() => c.ws.terminate());
  return c;
}

type Client = ReturnType<typeof connectProvider>;
type State = { name?: string } | undefined;

/** Resolves once `check` holds for the states `viewer` sees, re-checked on every change. */
function sees(viewer: Client, check: (states: Map<number, State>) => boolean): Promise<void> {
  const awareness = viewer.provider.awareness;
  return new Promise((resolve) => {
    const onChange = () => {
      if (!check(awareness.getStates() as Map<number, State>)) return;
      awareness.off("change", onChange);
      resolve();
    };
    awareness.on("change", onChange);
    onChange();
  });
}

const named = (subject: Client, name: string) => (states: Map<number, State>) =>
  states.get(subject.doc.clientID)?.name === name;
const absent = (subject: Client) => (states: Map<number, State>) =>
  !states.has(subject.doc.clientID);

/** Drops the client's socket without a goodbye: no null presence, no close frame. */
function dropSocket(subject: Client): void {
  subject.provider.shouldConnect = false;
  (subject.provider.ws as unknown as WebSocket).terminate();
}

/**
 * A raw connection publishing `victim`'s client id with a far newer clock
 * (and an id of its own, so the test knows when the server has handled it).
 */
async function forge(wsUrl: string, docId: string, victim: Client): Promise<void> {
  const attacker = client(`${wsUrl}/${docId}`);
  await attacker.next();
  const forged = encodeAwarenessUpdate([
    { clientId: victim.doc.clientID, clock: 999, state: { name: "Mallory" }, stateLength: 0 },
    { clientId: 77, clock: 1, state: { name: "attacker's own" }, stateLength: 0 },
  ]);
  attacker.ws.send(encodeFrame({ type: "awareness", update: forged }));
}

describe("presence ownership", () => {
  it("a stock client that reconnected keeps its presence id: another connection cannot overwrite it", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "own");
    const watcher = provider(wsUrl, "own");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    victim.provider.disconnect();
    await sees(watcher, absent(victim));
    victim.provider.connect();
    await whenSynced(victim.provider);
    // y-protocols reports this id as updated, not added: the server knows its clock.
    victim.provider.awareness.setLocalStateField("name", "Victim again");
    await sees(watcher, named(victim, "Victim again"));
    await forge(wsUrl, "own", victim);
    await sees(watcher, (states) => states.has(77));
    expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)).toEqual({
      name: "Victim again",
    });
  });

  it("a stock client's presence disappears for others when its reconnected socket drops", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "ghost");
    const watcher = provider(wsUrl, "ghost");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await sees(watcher, named(victim, "Victim"));
    victim.provider.disconnect();
    await sees(watcher, absent(victim));
    victim.provider.connect();
    await whenSynced(victim.provider);
    victim.provider.awareness.setLocalStateField("name", "Victim again");
    await sees(watcher, named(victim, "Victim again"));
    dropSocket(victim);
    await sees(watcher, absent(victim));
  });

  it("a client that clears its presence and publishes again still owns its id", async () => {
    const { wsUrl } = await server();
    const victim = provider(wsUrl, "clear");
    const watcher = provider(wsUrl, "clear");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    victim.provider.awareness.setLocalState({ name: "Victim" });
    await sees(watcher, named(victim, "Victim"));
    victim.provider.awareness.setLocalState(null);
    await sees(watcher, absent(victim));
    victim.provider.awareness.setLocalState({ name: "Back" });
    await sees(watcher, named(victim, "Back"));
    await forge(wsUrl, "clear", victim);
    await sees(watcher, (states) => states.has(77));
    expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)).toEqual({
      name: "Back",
    });
    dropSocket(victim);
    await sees(watcher, absent(victim));
  });
});
