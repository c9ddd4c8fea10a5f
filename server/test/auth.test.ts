import http from "node:http";
import net from "node:net";
import {
  CLOSE_BAD_FRAME,
  CLOSE_FORBIDDEN,
  CLOSE_RATE_LIMITED,
  CLOSE_TRY_AGAIN_LATER,
  CLOSE_UNAUTHENTICATED,
  decodeFrame,
  encodeAwarenessUpdate,
  encodeFrame,
} from "@cowrite/shared";
import * as jose from "jose";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import { isOriginAllowed } from "../src/admission.ts";
import { AuthError, createTokenAuth, mintToken, type Permission } from "../src/auth.ts";
import { createLogger, redactUrl } from "../src/logger.ts";
import { MemoryDocStore } from "../src/storage/memory.ts";
import {
  connectProvider,
  type Running,
  rawClient,
  startServer,
  whenDoc,
  whenSynced,
} from "./helpers.ts";

const SECRET = "test-secret-test-secret-test-secret-42";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function authServer(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const running = await startServer({
    authorize: await createTokenAuth({ secret: SECRET }),
    ...options,
  });
  cleanups.push(() => running.stop());
  return running;
}

function token(
  doc: string,
  perm: Permission = "write",
  extra: { name?: string; expiresIn?: number; secret?: string } = {},
) {
  return mintToken({
    secret: extra.secret ?? SECRET,
    userId: (extra.name ?? "alice").toLowerCase(),
    name: extra.name ?? "Alice",
    doc,
    permission: perm,
    expiresIn: extra.expiresIn ?? 3600,
  });
}

function client(url: string, options?: WebSocket.ClientOptions, protocols?: string[]) {
  const c = rawClient(url, options, protocols);
  cleanups.push(() => c.ws.terminate());
  return c;
}

/** Whether the server let the client in (it sent a frame) rather than closing the socket. */
function admitted(c: ReturnType<typeof client>): Promise<boolean> {
  return Promise.race([c.next().then(() => true), c.closed.then(() => false)]);
}

function provider(wsUrl: string, docId: string, params: Record<string, string>) {
  const doc = new Y.Doc();
  const p = connectProvider(wsUrl, docId, doc);
  p.provider.disconnect();
  p.provider.params = params;
  p.provider.connect();
  cleanups.push(() => p.provider.destroy());
  return p;
}

describe("WebSocket access control", () => {
  it("closes a connection without a token with 4401", async () => {
    const { wsUrl } = await authServer();
    expect(await client(`${wsUrl}/doc`).closed).toEqual({
      code: CLOSE_UNAUTHENTICATED,
      reason: "authentication required: no token",
    });
  });

  it("closes a token with a bad signature with 4401", async () => {
    const { wsUrl } = await authServer();
    const forged = await token("doc", "write", { secret: "another-secret-another-secret-another" });
    expect(await client(`${wsUrl}/doc?token=${forged}`).closed).toEqual({
      code: CLOSE_UNAUTHENTICATED,
      reason: "invalid token",
    });
    expect((await client(`${wsUrl}/doc?token=garbage`).closed).code).toBe(CLOSE_UNAUTHENTICATED);
  });

  it("closes an expired token with 4401 'token expired'", async () => {
    const { wsUrl } = await authServer();
    const expired = await token("doc", "write", { expiresIn: -10 });
    expect(await client(`${wsUrl}/doc?token=${expired}`).closed).toEqual({
      code: CLOSE_UNAUTHENTICATED,
      reason: "token expired",
    });
  });

  it("closes a token for another document with 4403", async () => {
    const { wsUrl } = await authServer();
    const other = await token("other-doc");
    const { code, reason } = await client(`${wsUrl}/doc?token=${other}`).closed;
    expect(code).toBe(CLOSE_FORBIDDEN);
    expect(reason).toContain("doc");
  });

  it("accepts prefix tokens for every document under the prefix", async () => {
    const { wsUrl } = await authServer();
    const team = await token("team-*");
    const ok = provider(wsUrl, "team-notes", { token: team });
    await whenSynced(ok.provider);
    expect((await client(`${wsUrl}/private?token=${team}`).closed).code).toBe(CLOSE_FORBIDDEN);
  });

  it("closes the connection with 4401 when the token expires while connected", async () => {
    // The server's clock runs 1.5 s short of the token's expiry: admission
    // accepts it, and only the expiry timer can close the connection.
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const skew = exp * 1000 - 1500 - Date.now();
    const now = () => Date.now() + skew;
    const { wsUrl } = await authServer({
      now,
      authorize: await createTokenAuth({ secret: SECRET, now }),
    });
    const short = await mintToken({
      secret: SECRET,
      userId: "alice",
      name: "Alice",
      doc: "doc",
      permission: "write",
      expiresIn: 1,
      now: () => (exp - 1) * 1000,
    });
    const c = client(`${wsUrl}/doc?token=${short}`);
    await c.opened;
    // Synced first: the server answers a sync step 1 with its step 2.
    c.ws.send(encodeFrame({ type: "sync-step-1", stateVector: Y.encodeStateVector(new Y.Doc()) }));
    const synced = c.next((bytes) => decodeFrame(bytes).type === "sync-step-2");
    const first = await Promise.race([synced.then(() => "synced"), c.closed.then(() => "closed")]);
    expect(first).toBe("synced");
    expect(await c.closed).toEqual({ code: CLOSE_UNAUTHENTICATED, reason: "token expired" });
  });

  it("a read-only peer receives the document but cannot change it", async () => {
    const { wsUrl } = await authServer();
    const writer = provider(wsUrl, "ro", { token: await token("ro", "write") });
    await whenSynced(writer.provider);
    writer.doc.getText("t").insert(0, "by the writer");
    const reader = provider(wsUrl, "ro", { token: await token("ro", "read", { name: "Rita" }) });
    await whenDoc(reader.doc, (d) => d.getText("t").toString() === "by the writer");
    reader.doc.getText("t").insert(0, "SNEAKY ");
    // The writer's next edit arrives; the reader's never does.
    writer.doc.getText("t").insert(13, "!");
    await whenDoc(reader.doc, (d) => d.getText("t").toString().endsWith("!"));
    const third = provider(wsUrl, "ro", { token: await token("ro", "read") });
    await whenDoc(third.doc, (d) => d.getText("t").toString() === "by the writer!");
    expect(writer.doc.getText("t").toString()).toBe("by the writer!");
  });

  it("lets the same user take over their presence id from a connection not yet known dead", async () => {
    const { wsUrl } = await authServer();
    const alice = await token("pres", "write", { name: "Alice" });
    const bob = await token("pres", "write", { name: "Bob" });
    const watcher = provider(wsUrl, "pres", { token: bob });
    await whenSynced(watcher.provider);
    const stateOf = (clock: number, label: string) =>
      encodeFrame({
        type: "awareness",
        update: encodeAwarenessUpdate([
          { clientId: 4242, clock, state: { label }, stateLength: 0 },
        ]),
      });
    const seen = (label: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (
            (watcher.provider.awareness.getStates().get(4242) as { label?: string })?.label ===
            label
          )
            resolve();
        };
        watcher.provider.awareness.on("change", check);
        check();
      });
    const old = client(`${wsUrl}/pres?token=${alice}`);
    await old.next();
    old.ws.send(stateOf(1, "old socket"));
    await seen("old socket");
    const impostor = client(`${wsUrl}/pres?token=${bob}`);
    await impostor.next();
    impostor.ws.send(stateOf(5, "impostor"));
    const again = client(`${wsUrl}/pres?token=${alice}`);
    await again.next();
    again.ws.send(stateOf(2, "reconnected"));
    await seen("reconnected");
    // The old socket closing no longer removes the presence it handed over.
    old.ws.terminate();
    again.ws.send(stateOf(3, "still here"));
    await seen("still here");
  });

  it("stamps the token's name over the name a client publishes", async () => {
    const { wsUrl } = await authServer();
    const mallory = provider(wsUrl, "names", {
      token: await token("names", "write", { name: "Alice" }),
    });
    const bob = provider(wsUrl, "names", { token: await token("names", "write", { name: "Bob" }) });
    await Promise.all([whenSynced(mallory.provider), whenSynced(bob.provider)]);
    mallory.provider.awareness.setLocalState({ name: "Bob", user: { name: "Bob" } });
    const seen = await new Promise<unknown>((resolve) => {
      const check = () => {
        const state = bob.provider.awareness.getStates().get(mallory.doc.clientID);
        if (state) resolve(state);
      };
      bob.provider.awareness.on("change", check);
      check();
    });
    expect(seen).toEqual({ name: "Alice", user: { name: "Alice" } });
  });
});

/** Signs `claims` as given (no defaults added), for tokens mintToken would never make. */
function sign(
  claims: jose.JWTPayload,
  key: Uint8Array | CryptoKey = new TextEncoder().encode(SECRET),
  alg = "HS256",
): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader({ alg }).sign(key);
}

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;
const valid = () => ({ sub: "alice", doc: "doc", perm: "write", exp: inAnHour() });

/** The close code `authorize` refuses `token` with (it must refuse). */
async function refusal(authorize: Awaited<ReturnType<typeof createTokenAuth>>, token: string) {
  const error = await authorize(token, "doc").then(
    () => new Error("accepted"),
    (e: unknown) => e,
  );
  if (!(error instanceof AuthError)) throw error;
  return error.closeCode;
}

describe("token verification", () => {
  it.each(["ES256", "EdDSA"])(
    "accepts %s tokens signed by the configured public key (PEM SPKI) and no other",
    async (alg) => {
      const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
      const pem = await jose.exportSPKI(publicKey);
      const authorize = await createTokenAuth({ publicKey: { pem, algorithm: alg } });
      const access = await authorize(await sign(valid(), privateKey, alg), "doc");
      expect(access).toMatchObject({ user: { id: "alice" }, permission: "write" });
      const stranger = await jose.generateKeyPair(alg);
      expect(await refusal(authorize, await sign(valid(), stranger.privateKey, alg))).toBe(
        CLOSE_UNAUTHENTICATED,
      );
      // Algorithm confusion: an HS256 token "signed" with the public key's text.
      expect(await refusal(authorize, await sign(valid(), new TextEncoder().encode(pem)))).toBe(
        CLOSE_UNAUTHENTICATED,
      );
      // And a real client gets in with the good token.
      const { wsUrl } = await authServer({ authorize });
      const c = client(`${wsUrl}/doc?token=${await sign(valid(), privateKey, alg)}`);
      await c.next();
    },
  );

  it("requires the configured issuer and audience: wrong or missing ones get 4401", async () => {
    const authorize = await createTokenAuth({
      secret: SECRET,
      issuer: "https://id.example",
      audience: "cowrite",
    });
    const good = { ...valid(), iss: "https://id.example", aud: "cowrite" };
    await expect(authorize(await sign(good), "doc")).resolves.toMatchObject({
      permission: "write",
    });
    const { iss: _iss, ...noIssuer } = good;
    const { aud: _aud, ...noAudience } = good;
    for (const claims of [
      { ...good, iss: "https://evil.example" },
      noIssuer,
      { ...good, aud: "someone-else" },
      noAudience,
    ]) {
      expect(await refusal(authorize, await sign(claims))).toBe(CLOSE_UNAUTHENTICATED);
    }
    const { wsUrl } = await authServer({ authorize });
    const c = client(`${wsUrl}/doc?token=${await sign(noAudience)}`);
    expect(await c.closed).toEqual({ code: CLOSE_UNAUTHENTICATED, reason: "invalid token" });
  });

  it("refuses tokens without exp, sub, doc or a read/write perm with 4401", async () => {
    const authorize = await createTokenAuth({ secret: SECRET });
    await expect(authorize(await sign(valid()), "doc")).resolves.toMatchObject({
      permission: "write",
    });
    const { exp: _exp, ...noExp } = valid();
    const { sub: _sub, ...noSub } = valid();
    const { doc: _doc, ...noDoc } = valid();
    const { perm: _perm, ...noPerm } = valid();
    for (const claims of [
      noExp,
      noSub,
      noDoc,
      noPerm,
      { ...valid(), perm: "admin" },
      { ...valid(), doc: "" },
      { ...valid(), doc: 42 },
    ]) {
      expect(await refusal(authorize, await sign(claims))).toBe(CLOSE_UNAUTHENTICATED);
    }
  });

  it("refuses to verify HS256 tokens with a secret shorter than 32 bytes", async () => {
    await expect(createTokenAuth({ secret: "s".repeat(31) })).rejects.toThrow(/32 bytes/);
    await expect(createTokenAuth({ secret: "s".repeat(32) })).resolves.toBeTypeOf("function");
  });
});

describe("origin allowlist", () => {
  it("allows same-origin pages and non-browser clients by default, refuses other sites with 4403", async () => {
    const { wsUrl, url } = await startServer();
    const host = new URL(url).host;
    const same = client(`${wsUrl}/o`, { origin: `http://${host}` });
    await same.next();
    const none = client(`${wsUrl}/o`);
    await none.next();
    expect(await client(`${wsUrl}/o`, { origin: "https://evil.example" }).closed).toEqual({
      code: CLOSE_FORBIDDEN,
      reason: "origin not allowed",
    });
  });

  it("configured origins widen, never replace, the server's own origin", () => {
    const allowed = ["https://app.example"];
    expect(isOriginAllowed("https://app.example", "cowrite:1234", allowed)).toBe(true);
    expect(isOriginAllowed("http://cowrite:1234", "cowrite:1234", allowed)).toBe(true);
    expect(isOriginAllowed("https://other.example", "cowrite:1234", allowed)).toBe(false);
    expect(isOriginAllowed("https://anything", "h", ["*"])).toBe(true);
    expect(isOriginAllowed("not a url", "h", [])).toBe(false);
  });
});

describe("HTTP API access control", () => {
  const json = (body: unknown, tokenValue?: string): RequestInit => ({
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(tokenValue ? { authorization: `Bearer ${tokenValue}` } : {}),
    },
    body: JSON.stringify(body),
  });

  it("needs a token, refuses read-only tokens for writes, and lists only covered documents", async () => {
    const { url } = await authServer();
    expect((await fetch(`${url}/api/documents`)).status).toBe(401);
    expect((await fetch(`${url}/api/stats`)).status).toBe(401);
    const reader = await token("team-*", "read");
    expect((await fetch(`${url}/api/documents`, json({}, reader))).status).toBe(403);

    const writer = await token("team-*", "write");
    const created = await fetch(`${url}/api/documents`, json({ title: "Ours" }, writer));
    expect(created.status).toBe(201);
    const { id } = await created.json();
    expect(id).toMatch(/^team-/);
    expect((await fetch(`${url}/api/documents`, json({ id: "elsewhere" }, writer))).status).toBe(
      403,
    );
    const admin = await token("*", "write");
    await fetch(`${url}/api/documents`, json({ id: "elsewhere" }, admin));

    const list = await fetch(`${url}/api/documents?token=${reader}`);
    expect((await list.json()).documents.map((d: { id: string }) => d.id)).toEqual([id]);
    const forbidden = await fetch(`${url}/api/documents/elsewhere`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.code).toBe("forbidden");
    const del = await fetch(`${url}/api/documents/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(del.status).toBe(403);
    const rename = (tokenValue: string, docId = id) =>
      fetch(`${url}/api/documents/${docId}`, {
        ...json({ title: "Renamed" }, tokenValue),
        method: "PATCH",
      });
    expect((await rename(reader)).status).toBe(403);
    expect((await rename(writer, "elsewhere")).status).toBe(403);
    expect((await rename(writer)).status).toBe(200);
  });

  it.each([
    ["a path", "../../etc"],
    ["a space", "has space"],
    ["200 characters", "x".repeat(200)],
    ["a prefix with a dot", "team.*"],
  ])(
    "refuses to create an id from a doc claim with %s (400), creating nothing",
    async (_name, doc) => {
      const { url, store } = await authServer();
      const res = await fetch(`${url}/api/documents`, json({ title: "T" }, await token(doc)));
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error.code).toBe("bad_request");
      expect(body.error.message).toMatch(/doc claim/);
      expect(await store.list({ limit: 10 })).toEqual([]);
    },
  );
});

describe("tokens", () => {
  it("accepts the token as a WebSocket subprotocol and answers with `cowrite`, never the token", async () => {
    const { wsUrl } = await authServer();
    const jwt = await token("sub");
    const c = client(`${wsUrl}/sub`, {}, ["cowrite", `cowrite-token.${jwt}`]);
    const answered = new Promise<string | undefined>((resolve) => {
      c.ws.once("upgrade", (res) => resolve(res.headers["sec-websocket-protocol"]));
    });
    expect(await admitted(c)).toBe(true);
    expect(await answered).toBe("cowrite");
    expect(c.ws.protocol).toBe("cowrite");

    const forged = await token("sub", "write", { secret: "another-secret-another-secret-42" });
    expect(await client(`${wsUrl}/sub`, {}, ["cowrite", `cowrite-token.${forged}`]).closed).toEqual(
      { code: CLOSE_UNAUTHENTICATED, reason: "invalid token" },
    );
    const reader = await token("sub", "read");
    const elsewhere = await token("other");
    // The subprotocol wins over ?token=, as the one a client chose deliberately.
    const both = client(`${wsUrl}/sub?token=${elsewhere}`, {}, [
      "cowrite",
      `cowrite-token.${reader}`,
    ]);
    expect(await admitted(both)).toBe(true);
  });

  it("never writes a token to the log, at any level", async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "trace" }, { write: (line) => void lines.push(line) });
    const store = new MemoryDocStore();
    store.get = async () => {
      throw new Error("disk on fire");
    };
    const { url, wsUrl } = await authServer({ logger, store });
    const good = await token("logged", "write");
    const other = await token("elsewhere");
    const forged = await token("logged", "write", { secret: "another-secret-another-secret-42" });

    // A 5xx from the API, asked with ?token=.
    expect((await fetch(`${url}/api/documents?token=${good}`)).status).toBe(500);
    // A request Node cannot parse, whose raw bytes hold a token.
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(url).port), "127.0.0.1", () =>
        socket.write(`GARBAGE /api/documents?token=${good} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk;
      });
      socket.on("close", () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    // Upgrades with good and refused tokens, in the URL and as a subprotocol.
    expect(await admitted(client(`${wsUrl}/logged?token=${good}`))).toBe(true);
    await admitted(client(`${wsUrl}/logged`, {}, ["cowrite", `cowrite-token.${good}`]));
    expect((await client(`${wsUrl}/logged?token=${other}`).closed).code).toBe(CLOSE_FORBIDDEN);
    expect((await client(`${wsUrl}/logged?token=${forged}`).closed).code).toBe(
      CLOSE_UNAUTHENTICATED,
    );
    const refused = client(`${wsUrl}/logged`, {}, ["cowrite", `cowrite-token.${forged}`]);
    expect((await refused.closed).code).toBe(CLOSE_UNAUTHENTICATED);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();

    const log = lines.join("");
    // The log did record these events...
    expect(log).toContain("request failed");
    expect(log).toContain("bad HTTP request");
    expect(log).toContain("rejected");
    // ...without any token, or a token's signature, in any line (nor the
    // raw bytes of a request, which pino would write as numbers).
    expect(log).not.toContain("rawPacket");
    for (const jwt of [good, other, forged]) {
      expect(log).not.toContain(jwt);
      expect(log).not.toContain(jwt.split(".")[2]);
    }
  });

  it("censors token-bearing fields of whatever object is logged", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "trace" }, { write: (line) => void lines.push(line) });
    const err = Object.assign(new Error("parse error"), { rawPacket: Buffer.from("?token=t0k") });
    logger.debug({ err }, "bad request");
    const headers = { authorization: "Bearer t0k", "sec-websocket-protocol": "cowrite-token.t0k" };
    logger.info({ req: { headers } }, "request");
    expect(lines).toHaveLength(2);
    expect(lines.join("")).not.toMatch(/t0k|116,48,107/);
  });

  it("redacts every query parameter named like token from URLs for the log", () => {
    expect(redactUrl("/api/documents?limit=5&token=abc.def")).toBe(
      "/api/documents?limit=5&token=REDACTED",
    );
    expect(redactUrl("/x?%74oken=abc&TOKEN=abc&token[]=abc")).toBe(
      "/x?token=REDACTED&TOKEN=REDACTED&token%5B%5D=REDACTED",
    );
    expect(redactUrl("/api/documents")).toBe("/api/documents");
  });

  it("redacts the HTTP fallback's session id, which is the session's credential", () => {
    expect(redactUrl("/http/doc-1/s3cr3t-session?pos=4&wait=25000")).toBe(
      "/http/doc-1/REDACTED?pos=4&wait=25000",
    );
    expect(redactUrl("/http/doc-1")).toBe("/http/doc-1");
  });
});

describe("Host allowlist", () => {
  /** Status of a plain HTTP GET sent with this Host header. */
  function getWithHost(url: string, path: string, host: string) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get(`${url}${path}`, { headers: { host } }, (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
    });
  }

  /** 101 if the upgrade went through, else the HTTP status it was refused with. */
  function upgradeWithHost(url: string, host: string, origin?: string) {
    const headers: Record<string, string> = { host, ...(origin ? { origin } : {}) };
    const ws = new WebSocket(url, { headers });
    cleanups.push(() => ws.terminate());
    return new Promise<number>((resolve, reject) => {
      ws.once("open", () => resolve(101));
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("error", reject);
    });
  }

  const loopback = [
    { hostname: "localhost", port: null },
    { hostname: "127.0.0.1", port: null },
    { hostname: "[::1]", port: null },
  ];

  it("refuses requests and upgrades for another Host with 421, before any room exists", async () => {
    const running = await startServer({ allowedHosts: loopback });
    cleanups.push(() => running.stop());
    const refused = await getWithHost(running.url, "/api/documents", "evil.example:1234");
    expect(refused.status).toBe(421);
    expect(JSON.parse(refused.body).error.code).toBe("misdirected_request");
    expect((await getWithHost(running.url, "/healthz", "evil.example")).status).toBe(421);
    // A rebound page is same-origin with itself: Origin and Host agree.
    expect(
      await upgradeWithHost(
        `${running.wsUrl}/rebound`,
        "evil.example:1234",
        "http://evil.example:1234",
      ),
    ).toBe(421);
    expect(running.server.rooms.size).toBe(0);
    expect(await running.store.get("rebound")).toBeNull();
  });

  it("allows the loopback names on any port", async () => {
    const running = await startServer({ allowedHosts: loopback });
    cleanups.push(() => running.stop());
    for (const host of ["localhost:1234", "127.0.0.1", "[::1]:8080", "LOCALHOST"]) {
      expect((await getWithHost(running.url, "/healthz", host)).status).toBe(200);
    }
    expect(await upgradeWithHost(`${running.wsUrl}/loop`, "localhost:1234")).toBe(101);
  });

  it("matches a configured port exactly", async () => {
    const allowedHosts = [{ hostname: "docs.example.com", port: 8443 }];
    const running = await startServer({ allowedHosts });
    cleanups.push(() => running.stop());
    expect((await getWithHost(running.url, "/healthz", "docs.example.com:8443")).status).toBe(200);
    expect((await getWithHost(running.url, "/healthz", "docs.example.com")).status).toBe(421);
  });

  it("still applies with auth on, whatever the token", async () => {
    const { url, wsUrl } = await authServer({ allowedHosts: loopback });
    const admin = await token("*");
    const refused = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        `${url}/api/documents`,
        { headers: { host: "evil.example", authorization: `Bearer ${admin}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
    });
    expect(refused).toBe(421);
    expect(await upgradeWithHost(`${wsUrl}/x?token=${admin}`, "evil.example")).toBe(421);
    expect(await upgradeWithHost(`${wsUrl}/x?token=${admin}`, "localhost")).toBe(101);
  });

  it("checks nothing without a list", async () => {
    const running = await startServer();
    cleanups.push(() => running.stop());
    expect((await getWithHost(running.url, "/healthz", "evil.example")).status).toBe(200);
  });
});

describe("limits", () => {
  it("closes a connection that floods messages with 4429", async () => {
    const { wsUrl } = await startServer({ limits: { maxMessagesPerSecond: 50 } }).then((r) => {
      cleanups.push(() => r.stop());
      return r;
    });
    const c = client(`${wsUrl}/flood`);
    await c.opened;
    const frame = encodeFrame({ type: "query-awareness" });
    for (let i = 0; i < 500 && c.ws.readyState === WebSocket.OPEN; i++) c.ws.send(frame);
    expect(await c.closed).toEqual({
      code: CLOSE_RATE_LIMITED,
      reason: "too many messages per second",
    });
  });

  it("refuses connections past the per-document limit with 1013 (try again later)", async () => {
    const running = await startServer({ limits: { maxConnectionsPerDocument: 2 } });
    cleanups.push(() => running.stop());
    const a = client(`${running.wsUrl}/full`);
    const b = client(`${running.wsUrl}/full`);
    await Promise.all([a.next(), b.next()]);
    expect((await client(`${running.wsUrl}/full`).closed).code).toBe(CLOSE_TRY_AGAIN_LATER);
    await client(`${running.wsUrl}/other`).next();
  });

  it("counts every new presence id in one message against the per-connection cap", async () => {
    const running = await startServer();
    cleanups.push(() => running.stop());
    const c = client(`${running.wsUrl}/ids`);
    await c.opened;
    const update = encodeAwarenessUpdate(
      Array.from({ length: 20 }, (_, i) => ({
        clientId: 1000 + i,
        clock: 1,
        state: { i },
        stateLength: 0,
      })),
    );
    c.ws.send(encodeFrame({ type: "awareness", update }));
    expect(await c.closed).toEqual({
      code: CLOSE_BAD_FRAME,
      reason: "too many awareness client ids on one connection",
    });
  });

  it("closes a client publishing an oversize awareness state with 4400", async () => {
    const running = await startServer({ limits: { maxAwarenessBytes: 1000 } });
    cleanups.push(() => running.stop());
    const c = client(`${running.wsUrl}/aw`);
    await c.opened;
    const update = encodeAwarenessUpdate([
      { clientId: 1, clock: 1, state: { name: "x".repeat(5000) }, stateLength: 0 },
    ]);
    c.ws.send(encodeFrame({ type: "awareness", update }));
    expect((await c.closed).code).toBe(CLOSE_BAD_FRAME);
  });

  it("ignores presence a client publishes for another connection's client id", async () => {
    const running = await startServer();
    cleanups.push(() => running.stop());
    const victim = connectProvider(running.wsUrl, "imp");
    const watcher = connectProvider(running.wsUrl, "imp");
    cleanups.push(() => victim.provider.destroy());
    cleanups.push(() => watcher.provider.destroy());
    victim.provider.awareness.setLocalStateField("name", "Victim");
    await Promise.all([whenSynced(victim.provider), whenSynced(watcher.provider)]);
    const attacker = client(`${running.wsUrl}/imp`);
    await attacker.next();
    // Wait until the server has the victim's state (it relays it to the attacker).
    await attacker.next((bytes) => bytes[0] === 1);
    const forged = encodeAwarenessUpdate([
      { clientId: victim.doc.clientID, clock: 999, state: { name: "Mallory" }, stateLength: 0 },
      { clientId: 77, clock: 1, state: { name: "attacker's own" }, stateLength: 0 },
    ]);
    attacker.ws.send(encodeFrame({ type: "awareness", update: forged }));
    // The attacker's own entry arrives; the forged one never does.
    await new Promise<void>((resolve) => {
      const check = () => {
        if (watcher.provider.awareness.getStates().has(77)) resolve();
      };
      watcher.provider.awareness.on("change", check);
      check();
    });
    expect(watcher.provider.awareness.getStates().get(victim.doc.clientID)).toEqual({
      name: "Victim",
    });
    expect(victim.provider.wsconnected).toBe(true);
    expect(attacker.ws.readyState).toBe(WebSocket.OPEN);
  });
});
