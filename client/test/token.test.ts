import { describe, expect, it } from "vitest";
import { decodeTokenClaims, describeAccessError, loadToken, localCopyUser } from "../src/token.ts";

/** An unsigned JWT-shaped string: the client never checks signatures. */
function fakeJwt(payload: object): string {
  const base64url = (text: string) =>
    Buffer.from(text).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${base64url('{"alg":"HS256"}')}.${base64url(JSON.stringify(payload))}.signature`;
}

function memoryStore(): Map<string, string> & Pick<Storage, "getItem" | "setItem"> {
  const map = new Map<string, string>();
  return Object.assign(map, {
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => void map.set(key, value),
  });
}

describe("decodeTokenClaims", () => {
  it("reads perm and a non-ASCII name from a base64url payload", () => {
    const claims = decodeTokenClaims(fakeJwt({ sub: "u1", name: "Zoë ~?>", perm: "read" }));
    expect(claims).toEqual({ permission: "read", name: "Zoë ~?>", subject: "u1" });
  });

  it("falls back to sub for the name, as the server does, and treats other perms as write", () => {
    expect(decodeTokenClaims(fakeJwt({ sub: "u1", perm: "write" }))).toEqual({
      permission: "write",
      name: "u1",
      subject: "u1",
    });
  });

  it.each([null, "", "garbage", "a.!!!.c", `a.${btoa("[1]")}.c`])(
    "returns null for %j, which is no readable JWT",
    (token) => {
      expect(decodeTokenClaims(token)).toBeNull();
    },
  );
});

describe("loadToken", () => {
  it("remembers the token from the URL and uses it when a later URL has none", () => {
    const store = memoryStore();
    expect(loadToken(store, "?token=abc&name=x")).toBe("abc");
    expect(loadToken(store, "")).toBe("abc");
    expect(loadToken(store, "?token=def")).toBe("def");
    expect(loadToken(memoryStore(), "")).toBeNull();
  });
});

describe("describeAccessError", () => {
  it("names sign-in problems and refusals apart", () => {
    expect(describeAccessError(4401, "token expired")).toMatch(
      /^Sign-in required: token expired\./,
    );
    expect(describeAccessError(403, "token does not grant access to document x")).toBe(
      "Access denied: token does not grant access to document x.",
    );
  });
});

describe("localCopyUser", () => {
  it("is the token's subject, anonymous without a token, and none for a token without one", () => {
    expect(localCopyUser(fakeJwt({ sub: "u1", name: "Ada" }))).toBe("u1");
    expect(localCopyUser(null)).toBe("anonymous");
    // Holders of such tokens cannot be told apart: they must not share a copy.
    expect(localCopyUser(fakeJwt({ name: "Ada" }))).toBeNull();
    expect(localCopyUser("not a jwt")).toBeNull();
  });
});
