// @vitest-environment jsdom
import { act, createElement } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { CowriteEditor } from "../src/react.tsx";
import { createFakeWebSockets } from "./fake-websocket.ts";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

afterEach(() => {
  document.body.replaceChildren();
});

describe("<CowriteEditor>", () => {
  it("mounts an editor in an effect and destroys it on unmount", async () => {
    const { Impl, sockets } = createFakeWebSockets();
    const original = globalThis.WebSocket;
    globalThis.WebSocket = Impl as unknown as typeof WebSocket;
    try {
      const container = document.createElement("div");
      document.body.append(container);
      const root = createRoot(container);
      const ready: string[] = [];
      await act(async () => {
        root.render(
          createElement(CowriteEditor, {
            serverUrl: "http://localhost:1234",
            docId: "react-doc",
            // A socket of its own, so that its lifecycle is the editor's (shared: shared-connection.test.ts).
            sharedConnection: false,
            user: { name: "Ada" },
            toolbar: ["bold"],
            theme: { "--cowrite-accent": "#0a7" },
            onReady: (editor) => ready.push(editor.docId),
          }),
        );
      });
      expect(ready).toEqual(["react-doc"]);
      expect(container.querySelector(".cowrite-editor")).not.toBeNull();
      expect(container.querySelectorAll(".toolbar-button")).toHaveLength(1);
      expect(sockets.at(-1)?.url).toBe("ws://localhost:1234/ws/react-doc");
      await act(async () => root.unmount());
      expect(container.childElementCount).toBe(0);
      expect(sockets.every((socket) => socket.closedWith !== null)).toBe(true);
    } finally {
      globalThis.WebSocket = original;
    }
  });
});
