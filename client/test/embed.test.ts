// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { optionsFromAttributes } from "../src/element.ts";
import { type CowriteEditorHandle, createEditor, toWebSocketUrl } from "../src/embed.ts";
import { createFakeWebSockets } from "./fake-websocket.ts";

const handles: CowriteEditorHandle[] = [];

afterEach(() => {
  for (const handle of handles.splice(0)) handle.destroy();
  document.body.replaceChildren();
});

function mount(options: Partial<Parameters<typeof createEditor>[1]> = {}) {
  const { Impl, sockets } = createFakeWebSockets();
  const host = document.createElement("div");
  document.body.append(host);
  const handle = createEditor(host, {
    serverUrl: "https://docs.example.com",
    docId: "doc-1",
    user: { name: "Ada", color: "#123456" },
    WebSocketImpl: Impl,
    ...options,
  });
  handles.push(handle);
  return { host, handle, sockets };
}

describe("toWebSocketUrl", () => {
  it("maps http to ws and https to wss and appends /ws", () => {
    expect(toWebSocketUrl("http://localhost:1234")).toBe("ws://localhost:1234/ws");
    expect(toWebSocketUrl("https://docs.example.com/")).toBe("wss://docs.example.com/ws");
    expect(toWebSocketUrl("https://example.com/cowrite")).toBe("wss://example.com/cowrite/ws");
  });

  it("refuses other schemes", () => {
    expect(() => toWebSocketUrl("ftp://example.com")).toThrow(TypeError);
  });
});

describe("createEditor", () => {
  it("connects to the derived URL, with the token as a subprotocol", () => {
    const { sockets } = mount({ token: "secret" });
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.url).toBe("wss://docs.example.com/ws/doc-1");
    expect(sockets[0]?.protocols).toEqual(["cowrite", "cowrite-token.secret"]);
  });

  it("calls a token function before connecting", async () => {
    const token = vi.fn(() => Promise.resolve("fresh"));
    const { sockets } = mount({ token });
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(token).toHaveBeenCalled();
    expect(sockets[0]?.protocols).toContain("cowrite-token.fresh");
  });

  it("applies theme variables on the root element", () => {
    const { handle } = mount({ theme: { "--cowrite-accent": "#00aa77", color: "red" } });
    expect(handle.element.style.getPropertyValue("--cowrite-accent")).toBe("#00aa77");
    // Only custom properties are applied.
    expect(handle.element.style.getPropertyValue("color")).toBe("");
  });

  it("shows only the toolbar buttons asked for, or none", () => {
    const some = mount({ toolbar: ["bold", "italic"] });
    const names = [...some.host.querySelectorAll<HTMLElement>(".toolbar-button")].map(
      (b) => b.dataset.testid,
    );
    expect(names).toEqual(["toolbar-bold", "toolbar-italic"]);
    const none = mount({ toolbar: false });
    expect(none.host.querySelector(".toolbar")).toBeNull();
  });

  it("reports status changes and unsubscribes", () => {
    const { handle, sockets } = mount();
    const seen: string[] = [];
    const off = handle.on("status", (state) => seen.push(state.status));
    sockets[0]?.open();
    expect(seen).toEqual(["connected"]);
    expect(handle.status.status).toBe("connected");
    off();
    sockets[0]?.serverClose(4404, "no such document");
    expect(seen).toEqual(["connected"]);
  });

  it("destroy() removes its DOM and closes its socket, 100 times over", () => {
    const { Impl, sockets } = createFakeWebSockets();
    const host = document.createElement("div");
    document.body.append(host);
    // Window listeners still registered: [type, listener] pairs.
    const live = new Set<string>();
    const listenerIds = new Map<unknown, number>();
    const keyOf = (type: string, listener: unknown): string => {
      if (!listenerIds.has(listener)) listenerIds.set(listener, listenerIds.size);
      return `${type}#${listenerIds.get(listener)}`;
    };
    const add = vi
      .spyOn(window, "addEventListener")
      .mockImplementation((type, listener) => live.add(keyOf(type, listener)));
    const remove = vi
      .spyOn(window, "removeEventListener")
      .mockImplementation((type, listener) => live.delete(keyOf(type, listener)));
    for (let i = 0; i < 100; i++) {
      const handle = createEditor(host, {
        serverUrl: "http://localhost",
        docId: `doc-${i}`,
        WebSocketImpl: Impl,
      });
      if (i % 2 === 0) sockets[i]?.open();
      handle.destroy();
      handle.destroy();
    }
    expect(host.childElementCount).toBe(0);
    expect(sockets).toHaveLength(100);
    expect(sockets.every((socket) => socket.closedWith !== null)).toBe(true);
    // Lexical registers one module-wide `textInput` listener, once; nothing else stays.
    expect([...live].filter((key) => !key.startsWith("textInput#"))).toEqual([]);
    expect(add.mock.calls.length).toBeGreaterThanOrEqual(500);
    add.mockRestore();
    remove.mockRestore();
  });

  it("reads content as text, JSON, Markdown and HTML", () => {
    const { handle } = mount();
    expect(handle.getText()).toBe("");
    expect(handle.getJSON().root.type).toBe("root");
    expect(handle.getMarkdown()).toBe("");
    expect(typeof handle.getHTML()).toBe("string");
  });
});

describe("<cowrite-editor> attributes", () => {
  it("maps attributes to options", () => {
    const element = document.createElement("div");
    element.setAttribute("doc", "d1");
    element.setAttribute("server", "https://x.example");
    element.setAttribute("name", "Ada");
    element.setAttribute("readonly", "");
    element.setAttribute("toolbar", "bold, italic");
    element.setAttribute("placeholder", "Write");
    expect(optionsFromAttributes(element)).toEqual({
      serverUrl: "https://x.example",
      docId: "d1",
      user: { name: "Ada" },
      readOnly: true,
      toolbar: ["bold", "italic"],
      placeholder: "Write",
    });
    element.setAttribute("toolbar", "false");
    expect(optionsFromAttributes(element)?.toolbar).toBe(false);
    element.removeAttribute("doc");
    expect(optionsFromAttributes(element)).toBeNull();
  });
});
