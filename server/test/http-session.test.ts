/**
 * The HTTP fallback transport (PROTOCOL.md §7) against a real server: the
 * same frames as a WebSocket, over a session of polls and posts, with the
 * WebSocket's admission, limits and close codes.
 */
import {
  CLOSE_TOO_BIG,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  decodeFrameBatch,
  encodeFrame,
  encodeFrameBatch,
  type Frame,
  HTTP_CLOSE_CODE_HEADER,
  HTTP_CLOSE_REASON_HEADER,
  HTTP_NEXT_POSITION_HEADER,
} from "@cowrite/shared";
import { describe, expect, it, vi } from "vitest";
import * as Y from "yjs";
import { createTokenAuth, mintToken, type Permission } from "../src/auth.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import {
  connectProvider,
  type Running,
  serverStarter,
  startServer,
  useCleanups,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const SECRET = "test-secret-test-secret-test-secret-42";
const defer = useCleanups();

const server = serverStarter(defer, () => ({ store: new MemoryDocStore() }));

interface PollResult {
  status: number;
  frames: Frame[];
  next: number;
  close: { code: number; reason: string } | null;
  json: unknown;
}

/** A bare HTTP fallback client: one session, explicit polls and posts. */
class RawSession {
  position = 0;
  constructor(
    readonly base: string,
    readonly id: string,
  ) {}

  static async open(url: string, docId: string, token?: string): Promise<RawSession> {
    const res = await fetch(`${url}/http/${docId}`, {
      method: "POST",
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    expect(res.status).toBe(201);
    const { session } = (await res.json()) as { session: string };
    return new RawSession(`${url}/http/${docId}/${session}`, session);
  }

  /** One poll at `pos` (default: after everything received so far). */
  async poll(pos = this.position): Promise<PollResult> {
    const res = await fetch(`${this.base}?pos=${pos}`);
    const json = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
    if (res.status !== 200) return { status: res.status, frames: [], next: pos, close: null, json };
    const body = new Uint8Array(await res.arrayBuffer());
    const next = Number(res.headers.get(HTTP_NEXT_POSITION_HEADER));
    const code = res.headers.get(HTTP_CLOSE_CODE_HEADER);
    this.position = next;
    return {
      status: 200,
      frames: decodeFrameBatch(body).map((bytes) => decodeFrame(bytes)),
      next,
      close:
        code === null
          ? null
          : {
              code: Number(code),
              reason: decodeURIComponent(res.headers.get(HTTP_CLOSE_REASON_HEADER) ?? ""),
            },
      json,
    };
  }

  /** Polls until `match` holds for a frame (or the session closes); returns every frame seen. */
  async pollUntil(match: (frame: Frame) => boolean): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (;;) {
      const result = await this.poll();
      expect(result.status).toBe(200);
      seen.push(...result.frames);
      if (result.frames.some(match) || result.close) return seen;
    }
  }

  /** Polls until the in-band close arrives. */
  async pollClose(): Promise<{ code: number; reason: string }> {
    for (;;) {
      const result = await this.poll();
      expect(result.status).toBe(200);
      if (result.close) return result.close;
    }
  }

  async post(frames: Frame[] | Uint8Array): Promise<{ status: number; json: unknown }> {
    const body = frames instanceof Uint8Array ? frames : encodeFrameBatch(frames.map(encodeFrame));
    const res = await fetch(this.base, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: body as Uint8Array<ArrayBuffer>,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }
}

async function stats(running: Running): Promise<Record<string, unknown>> {
  return (await (await fetch(`${running.url}/api/stats`)).json()) as Record<string, unknown>;
}

function token(doc: string, permission: Permission): Promise<string> {
  return mintToken({
    secret: SECRET,
    userId: "alice",
    name: "Alice",
    doc,
    permission,
    expiresIn: 3600,
  });
}

/** A y-protocols client's Yjs side: answers step 1s and applies what comes. */
function apply(doc: Y.Doc, frames: Frame[]): Frame[] {
  const replies: Frame[] = [];
  for (const frame of frames) {
    if (frame.type === "sync-step-1") {
      replies.push({ type: "sync-step-2", update: Y.encodeStateAsUpdate(doc, frame.stateVector) });
    } else if (frame.type === "sync-step-2" || frame.type === "update") {
      Y.applyUpdate(doc, frame.update);
    }
  }
  return replies;
}

describe("HTTP fallback sessions", () => {
  it("syncs a document both ways with WebSocket clients, and the step 2 answering a step 1 is the saved receipt", async () => {
    const running = await server();
    const ws = connectProvider(running.wsUrl, "doc1");
    defer(() => ws.provider.destroy());
    await whenSynced(ws.provider);
    ws.doc.getText("t").insert(0, "from ws ");

    const doc = new Y.Doc();
    const session = await RawSession.open(running.url, "doc1");
    const first = await session.pollUntil((frame) => frame.type === "sync-step-1");
    await session.post([
      ...apply(doc, first),
      { type: "sync-step-1", stateVector: Y.encodeStateVector(doc) },
    ]);
    const synced = await session.pollUntil((frame) => frame.type === "sync-step-2");
    apply(doc, synced);
    expect(doc.getText("t").toString()).toBe("from ws ");

    // An edit over HTTP reaches the WebSocket client, and is on disk once
    // the step 2 answering the next step 1 arrives.
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    doc.getText("t").insert(8, "and http");
    await session.post([
      ...updates.map((update): Frame => ({ type: "update", update })),
      { type: "sync-step-1", stateVector: Y.encodeStateVector(doc) },
    ]);
    await whenDoc(ws.doc, (d) => d.getText("t").toString() === "from ws and http");
    await session.pollUntil((frame) => frame.type === "sync-step-2");
    const stored = new Y.Doc();
    for (const update of await running.store.load("doc1")) Y.applyUpdate(stored, update);
    expect(stored.getText("t").toString()).toBe("from ws and http");

    // And the other way.
    ws.doc.getText("t").insert(0, "> ");
    apply(doc, await session.pollUntil((frame) => frame.type === "update"));
    expect(doc.getText("t").toString()).toBe("> from ws and http");
    expect(running.server.connectionCount).toBe(2);
  });

  it("a retried poll gets the same frames again; a poll past them acknowledges and drops them", async () => {
    const running = await server();
    const session = await RawSession.open(running.url, "resume");
    const first = await session.poll(0);
    expect(first.frames.map((frame) => frame.type)).toContain("sync-step-1");
    const again = await session.poll(0);
    expect(again.frames).toEqual(first.frames);
    expect(again.next).toBe(first.next);
    // After acknowledging position 1, position 0 is gone.
    await session.post([{ type: "query-awareness" }]);
    await session.pollUntil((frame) => frame.type === "awareness");
    expect((await session.poll(0)).status).toBe(400);
  });

  it("read-only peer cannot edit over HTTP, and a bad token gets the WebSocket's 4401 in-band", async () => {
    const running = await server({ authorize: await createTokenAuth({ secret: SECRET }) });
    const reader = await RawSession.open(running.url, "ro", await token("ro", "read"));
    const doc = new Y.Doc();
    const first = await reader.pollUntil((frame) => frame.type === "sync-step-1");
    const updates: Uint8Array[] = [];
    doc.on("update", (update: Uint8Array) => updates.push(update));
    doc.getText("t").insert(0, "not allowed");
    await reader.post([
      ...apply(doc, first),
      ...updates.map((update): Frame => ({ type: "update", update })),
      { type: "sync-step-1", stateVector: new Uint8Array([0]) },
    ]);
    const answers = await reader.pollUntil((frame) => frame.type === "sync-step-2");
    const step2 = answers.find((frame) => frame.type === "sync-step-2");
    const check = new Y.Doc();
    if (step2?.type === "sync-step-2") Y.applyUpdate(check, step2.update);
    expect(check.getText("t").toString()).toBe("");
    expect((await running.store.load("ro")).length).toBe(0);

    const stranger = await RawSession.open(running.url, "ro", "not-a-token");
    expect((await stranger.pollClose()).code).toBe(CLOSE_UNAUTHENTICATED);
    expect((await stranger.poll()).json).toEqual(
      expect.objectContaining({ error: "unknown_session" }),
    );
    const missing = await fetch(`${running.url}/http/ro`, { method: "POST" });
    expect(missing.status).toBe(201);
  });

  it("unknown sessions get 404 unknown_session for polls, posts and closes", async () => {
    const running = await server();
    for (const method of ["GET", "POST", "DELETE"]) {
      const res = await fetch(`${running.url}/http/doc/nope`, { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual(expect.objectContaining({ error: "unknown_session" }));
    }
  });

  it("a session with no poll for the idle time expires: it leaves the document and is unknown after", async () => {
    const running = await server({ httpSessions: { idleMs: 150 } });
    const session = await RawSession.open(running.url, "idle");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    expect(running.server.connectionCount).toBe(1);
    await vi.waitFor(() => expect(running.server.httpSessionCount).toBe(0), { timeout: 5000 });
    await vi.waitFor(() => expect(running.server.connectionCount).toBe(0), { timeout: 5000 });
    const posted = await session.post([{ type: "query-awareness" }]);
    expect(posted.status).toBe(404);
    expect(posted.json).toEqual(expect.objectContaining({ error: "unknown_session" }));
    expect((await session.poll()).status).toBe(404);
  });

  it("a client that does not poll is closed once its unacknowledged frames pass maxBufferedBytes", async () => {
    const running = await server({ limits: { maxBufferedBytes: 4096 } });
    const session = await RawSession.open(running.url, "slow");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    const writer = connectProvider(running.wsUrl, "slow");
    const observer = connectProvider(running.wsUrl, "slow");
    defer(() => writer.provider.destroy());
    defer(() => observer.provider.destroy());
    await Promise.all([whenSynced(writer.provider), whenSynced(observer.provider)]);
    // Two broadcasts (the room merges what arrives together): the first
    // fills the session's buffer past the limit, the second finds it full.
    writer.doc.getText("t").insert(0, "a".repeat(5000));
    await whenDoc(observer.doc, (d) => d.getText("t").length === 5000);
    writer.doc.getText("t").insert(0, "b");
    // The observer got it: so was the session sent (or refused) it.
    await whenDoc(observer.doc, (d) => d.getText("t").length === 5001);
    const result = await session.poll();
    expect(result.status).toBe(404);
    expect(running.server.httpSessionCount).toBe(0);
  });

  it("a frame over maxMessageBytes gets 413 and closes the session with 1009", async () => {
    const running = await server({ limits: { maxMessageBytes: 1000 } });
    const session = await RawSession.open(running.url, "big");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    const posted = await session.post([{ type: "update", update: new Uint8Array(1001) }]);
    expect(posted.status).toBe(413);
    expect((await session.pollClose()).code).toBe(CLOSE_TOO_BIG);
  });

  it("a body over the queue limit gets 413 and closes the session with 1009", async () => {
    const running = await server({ limits: { maxMessageBytes: 1000, maxQueuedBytes: 5000 } });
    const session = await RawSession.open(running.url, "body");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    const small = encodeFrame({ type: "query-awareness" });
    const frames = Array.from({ length: 3000 }, () => small);
    const posted = await session.post(encodeFrameBatch(frames));
    expect(posted.status).toBe(413);
    expect((await session.pollClose()).code).toBe(CLOSE_TOO_BIG);
  });

  it("shutdown answers held polls with 1001 and ends the sessions", async () => {
    const running = await startServer({ store: new MemoryDocStore() });
    const session = await RawSession.open(running.url, "bye");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    const held = session.poll();
    await vi.waitFor(async () =>
      expect((await stats(running)).httpSessions).toEqual({ open: 1, polling: 1 }),
    );
    const stopping = running.stop();
    const result = await held;
    await stopping;
    expect(result.close?.code).toBe(1001);
    expect(running.server.httpSessionCount).toBe(0);
  });

  it("counts sessions in /api/stats", async () => {
    const running = await server();
    const session = await RawSession.open(running.url, "stats");
    await session.pollUntil((frame) => frame.type === "sync-step-1");
    expect(await stats(running)).toEqual(
      expect.objectContaining({ connections: 1, httpSessions: { open: 1, polling: 0 } }),
    );
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/^cowrite_http_sessions 1$/m);
  });

  it("answers CORS preflights only for allowed origins, and lets their pages read the poll headers", async () => {
    const running = await server({ allowedOrigins: ["https://app.example"] });
    const preflight = (origin: string) =>
      fetch(`${running.url}/http/doc`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization",
        },
      });
    const allowed = await preflight("https://app.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(allowed.headers.get("access-control-allow-headers")).toContain("authorization");
    const other = await preflight("https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const opened = await fetch(`${running.url}/http/doc`, {
      method: "POST",
      headers: { origin: "https://app.example" },
    });
    expect(opened.headers.get("access-control-expose-headers")).toContain(
      HTTP_NEXT_POSITION_HEADER,
    );
    // Admission checks the origin as for a WebSocket: another origin's session closes with 4403.
    const { session } = (await opened.json()) as { session: string };
    expect((await fetch(`${running.url}/http/doc/${session}?pos=0`)).status).toBe(200);
    const foreign = await fetch(`${running.url}/http/doc`, {
      method: "POST",
      headers: { origin: "https://evil.example" },
    });
    const rejected = new RawSession(
      `${running.url}/http/doc/${((await foreign.json()) as { session: string }).session}`,
      "",
    );
    expect((await rejected.pollClose()).code).toBe(4403);
  });
});
