import { describe, expect, it } from "vitest";
import { decodeRelayMessage, encodeRelayMessage, RelayType } from "../src/cluster/messages.ts";

describe("relay messages between nodes", () => {
  it("a heartbeat may carry the node's URL, and one without it still decodes", () => {
    const withUrl = encodeRelayMessage({ type: RelayType.heartbeat, url: "http://10.0.0.5:1234" });
    expect(decodeRelayMessage(withUrl)).toEqual({
      type: RelayType.heartbeat,
      url: "http://10.0.0.5:1234",
    });
    // What nodes of the previous version send (and receive: they read only the type).
    const bare = encodeRelayMessage({ type: RelayType.heartbeat });
    expect(bare).toEqual(Uint8Array.of(RelayType.heartbeat));
    expect(decodeRelayMessage(bare)).toEqual({ type: RelayType.heartbeat });
  });
});
