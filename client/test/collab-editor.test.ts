// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { type CollabEditor, createCollabEditor } from "../src/collab-editor.ts";
import { createFakeWebSockets, type FakeSocket } from "./fake-websocket.ts";

const editors: CollabEditor[] = [];
afterEach(() => {
  for (const collab of editors.splice(0)) collab.destroy();
  document.body.replaceChildren();
});

/** A collaborative editor connected to a fake server and past its first sync. */
function syncedEditor(): { collab: CollabEditor; socket: FakeSocket } {
  const { Impl, sockets } = createFakeWebSockets();
  const collab = createCollabEditor({
    url: "wss://docs.example.com/ws",
    docId: "doc-1",
    user: { name: "Ada", color: "#123456" },
    WebSocketImpl: Impl,
  });
  editors.push(collab);
  document.body.append(collab.body);
  const socket = sockets[0];
  if (!socket) throw new Error("no socket opened");
  socket.open();
  const serverDoc = new Y.Doc();
  socket.receive({ type: "sync-step-1", stateVector: Y.encodeStateVector(serverDoc) });
  socket.receive({ type: "sync-step-2", update: Y.encodeStateAsUpdate(serverDoc) });
  expect(collab.editor.isEditable()).toBe(true);
  return { collab, socket };
}

describe("createCollabEditor", () => {
  it("stops taking typing when the server closes for good (document deleted)", () => {
    const { collab, socket } = syncedEditor();
    socket.serverClose(4404, "document deleted");
    expect(collab.status.status).toBe("stopped");
    expect(collab.editor.isEditable()).toBe(false);
  });

  it("stays editable after a disconnect asked for by the page, to sync on connect()", () => {
    const { collab } = syncedEditor();
    collab.provider.disconnect();
    expect(collab.status.status).toBe("stopped");
    expect(collab.editor.isEditable()).toBe(true);
  });
});
