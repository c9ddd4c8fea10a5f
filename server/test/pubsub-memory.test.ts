import { describe, expect, it } from "vitest";
import { MemoryBus, MemoryPubSub } from "../src/pubsub/memory.ts";
import { bytes, Inbox } from "./pubsub-inbox.ts";

describe("MemoryPubSub", () => {
  it("loseNext drops messages and reports a gap in their place, then delivers again", async () => {
    const bus = new MemoryBus();
    const a = new MemoryPubSub(bus, "a");
    const b = new MemoryPubSub(bus, "b");
    const inbox = new Inbox();
    await b.subscribe("doc", inbox.onMessage, inbox.onGap);
    bus.loseNext("doc", 2);
    await a.publish("doc", bytes("lost 1"));
    await a.publish("doc", bytes("lost 2"));
    await a.publish("doc", bytes("kept"));
    await inbox.received("kept");
    expect(inbox.texts).toEqual(["kept"]);
    expect(inbox.gaps).toBe(2);
  });

  it("instances on different buses do not hear each other", async () => {
    const a = new MemoryPubSub(new MemoryBus(), "a");
    const b = new MemoryPubSub(new MemoryBus(), "b");
    const atB = new Inbox();
    await b.subscribe("doc", atB.onMessage, atB.onGap);
    await a.publish("doc", bytes("elsewhere"));
    // Delivery is queued during publish and runs before publish's promise
    // settles: had it crossed buses, it would be here now.
    expect(atB.messages).toEqual([]);
  });
});
