import { describe, expect, it, vi } from "vitest";
import { ApiRequestError, createDocumentsApi } from "../src/api.ts";

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

describe("createDocumentsApi", () => {
  it("sends the current token as a bearer token on every request", async () => {
    let token: string | null = "first";
    const fetch = vi.fn(async () => jsonResponse(200, { documents: [] }));
    const api = createDocumentsApi({ fetch, token: () => token });
    await api.listDocuments();
    token = null;
    await api.listDocuments();
    const headers = fetch.mock.calls.map(
      (call) => (call as unknown as [string, RequestInit])[1].headers as Record<string, string>,
    );
    expect(headers[0]?.authorization).toBe("Bearer first");
    expect(headers[1]).not.toHaveProperty("authorization");
  });

  it("turns a 401 into an ApiRequestError with the server's code and message", async () => {
    const fetch = vi.fn(async () =>
      jsonResponse(401, { error: { code: "unauthenticated", message: "invalid token" } }),
    );
    const failure = createDocumentsApi({ fetch }).listDocuments();
    await expect(failure).rejects.toBeInstanceOf(ApiRequestError);
    await expect(failure).rejects.toMatchObject({
      status: 401,
      code: "unauthenticated",
      message: "invalid token",
    });
  });

  it("asks for a page of the list with the search and cursor given", async () => {
    const fetch = vi.fn(async () => jsonResponse(200, { documents: [], nextCursor: null }));
    const api = createDocumentsApi({ fetch });
    await api.listDocuments({ q: "plans & notes", cursor: "abc", limit: 20 });
    await api.listDocuments();
    const urls = fetch.mock.calls.map((call) => (call as unknown as [string])[0]);
    expect(urls).toEqual([
      "/api/documents?limit=20&q=plans+%26+notes&cursor=abc",
      "/api/documents",
    ]);
  });

  it("renames with a PATCH of the title", async () => {
    const fetch = vi.fn(async () => jsonResponse(200, { id: "d", title: "New" }));
    await createDocumentsApi({ fetch }).renameDocument("d", "New");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/documents/d");
    expect(init.method).toBe("PATCH");
    expect(JSON.parse(String(init.body))).toEqual({ title: "New" });
  });
});
