/**
 * The HTTP API under /api. JSON in, JSON out; every error is
 * `{ error: { code, message } }` with a 4xx status (5xx only for our bugs,
 * and then without internals).
 */
import {
  CREATE_BODY_MAX_BYTES,
  DOC_ID_PATTERN,
  type DocumentList,
  type DocumentMeta,
  type DocumentVersion,
  EXPORT_FORMATS,
  generateDocId,
  IMPORT_FORMATS,
  isValidDocId,
  TITLE_FIELD,
  TITLE_MAX_LENGTH,
} from "@cowrite/shared";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import * as Y from "yjs";
import { z } from "zod";
import { type Access, AuthError, type Authorize, matchesDoc } from "./auth.ts";
import { attachmentDisposition } from "./document-format.ts";
import { ConversionTimeoutError, type FormatPool } from "./format-pool.ts";
import { redactUrl } from "./logger.ts";
import type { Peer, Room } from "./room.ts";
import type { RoomRegistry } from "./rooms.ts";
import {
  type DocMeta,
  type DocStore,
  DocumentExistsError,
  type VersionMeta,
} from "./storage/doc-store.ts";
import { restoreUpdate } from "./version-restore.ts";

export interface ApiOptions {
  store: DocStore;
  rooms: RoomRegistry;
  logger: Logger;
  now: () => number;
  authorize: Authorize;
  /** Document conversions for export and import (off the event loop). */
  formats: FormatPool;
  /** Live counters for GET /api/stats (optionally for one document). */
  stats: (docId: string | null) => object;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const docIdSchema = z.string().regex(DOC_ID_PATTERN, "must be 1-64 of A-Z a-z 0-9 _ -");
const createBodySchema = z
  .object({
    id: docIdSchema.optional(),
    title: z.string().max(TITLE_MAX_LENGTH).optional(),
    content: z
      .object({ format: z.enum(IMPORT_FORMATS), text: z.string() })
      .strict()
      .optional(),
  })
  .strict();
const exportQuerySchema = z.object({ format: z.enum(EXPORT_FORMATS) });
const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  q: z.string().max(TITLE_MAX_LENGTH).optional(),
  cursor: z.string().max(200).optional(),
});
const updateBodySchema = z.object({ title: z.string().max(TITLE_MAX_LENGTH) }).strict();
const versionBodySchema = z
  .object({ name: z.string().trim().min(1).max(TITLE_MAX_LENGTH) })
  .strict();
const versionIdSchema = z.coerce.number().int().positive();
/** A list cursor: the last entry of a page, as base64url JSON (opaque to clients). */
const cursorSchema = z.object({ u: z.number().int().nonnegative(), id: docIdSchema }).strict();

export function createApiRouter(options: ApiOptions): express.Router {
  const { store, rooms, now } = options;
  /** Checks the request's bearer token (header or `?token=`) like a WebSocket's. */
  const access = async (req: Request, docId: string | null, need: "read" | "write") => {
    const header = req.get("authorization");
    const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null;
    const query = typeof req.query.token === "string" ? req.query.token : null;
    let granted: Access;
    try {
      granted = await options.authorize(bearer ?? query, docId);
    } catch (error) {
      if (error instanceof AuthError) {
        const code = error.httpStatus === 401 ? "unauthenticated" : "forbidden";
        throw new HttpError(error.httpStatus, code, error.message);
      }
      throw error;
    }
    if (need === "write" && granted.permission !== "write") {
      throw new HttpError(403, "forbidden", "this token is read-only");
    }
    return granted;
  };
  const { formats } = options;
  const router = express.Router();
  // Small bodies everywhere, except a new document's, which may bring its content.
  const smallJson = express.json({ limit: "16kb", strict: true });
  const createJson = express.json({ limit: CREATE_BODY_MAX_BYTES, strict: true });
  router.use((req, res, next) => {
    const parser = req.method === "POST" && req.path === "/documents" ? createJson : smallJson;
    parser(req, res, next);
  });

  router.get("/documents", async (req, res) => {
    const { limit, q, cursor } = parse(listQuerySchema, req.query, "query");
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const query = q?.trim() ?? "";
    const { docPattern } = await access(req, null, "read");
    let page: DocMeta[];
    let more = false;
    if (docPattern.endsWith("*")) {
      // One more than asked: whether there is a next page.
      const found = await store.list({
        limit: limit + 1,
        prefix: docPattern.slice(0, -1),
        query,
        after,
      });
      more = found.length > limit;
      page = found.slice(0, limit);
    } else {
      // A token for one document sees that one, listed or not, on page one.
      const meta = after ? null : await store.get(docPattern);
      page = meta?.title.toLowerCase().includes(query.toLowerCase()) ? [meta] : [];
    }
    const last = page.at(-1);
    const body: DocumentList = {
      documents: page.map(toApi),
      nextCursor: more && last ? encodeCursor(last) : null,
    };
    res.json(body);
  });

  router.post("/documents", async (req, res) => {
    if (!req.is("application/json")) {
      throw new HttpError(415, "unsupported_media_type", "send a JSON body (application/json)");
    }
    const body = parse(createBodySchema, req.body ?? {}, "body");
    const { docPattern } = await access(req, null, "write");
    const id = body.id ?? newIdFor(docPattern);
    // The body's id was checked by the schema; one derived from the token's
    // claim must pass the same check, or the document could never be opened.
    if (!isValidDocId(id)) {
      throw new HttpError(
        400,
        "bad_request",
        `the token's doc claim ${JSON.stringify(docPattern)} gives no valid document id ` +
          "(1-64 of A-Z a-z 0-9 _ -); send an id in the body",
      );
    }
    if (!matchesDoc(docPattern, id)) {
      throw new HttpError(403, "forbidden", `token does not grant access to document ${id}`);
    }
    // Converted before anything is stored: content that fails to convert creates nothing.
    const content = body.content;
    const imported = content ? await convert(() => formats.importContent(content)) : null;
    const title = (body.title ?? imported?.heading ?? "").trim();
    const at = now();
    let meta: DocMeta;
    try {
      meta = await store.create({ id, title, at });
    } catch (error) {
      if (error instanceof DocumentExistsError) {
        throw new HttpError(409, "conflict", `document ${id} already exists`);
      }
      throw error;
    }
    // The title lives in the document itself (a shared Y.Text), so that
    // everyone edits it together; seed it there too. Through the room, not
    // straight into the store: a client may have opened the document since
    // the row was created, and its room would never see a stored-only write.
    // Title and content are one update: a client that opens the document
    // sees both or neither, and never an empty body it would fill itself.
    const updates = [
      ...(title ? [encodeTitle(title)] : []),
      ...(imported ? [imported.update] : []),
    ];
    if (updates.length > 0) {
      await applyThroughRoom(rooms, id, () => Y.mergeUpdates(updates));
      // The room saved it at its own time: answer with the row as it is now.
      meta = (await store.get(id)) ?? meta;
    }
    res.status(201).location(`/api/documents/${id}`).json(toApi(meta));
  });

  router.get("/stats", async (req, res) => {
    const docId = req.query.doc === undefined ? null : parse(docIdSchema, req.query.doc, "doc");
    await access(req, docId, "read");
    res.json(options.stats(docId));
  });

  router.get("/documents/:id", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    await access(req, id, "read");
    const meta = await store.get(id);
    if (!meta) throw new HttpError(404, "not_found", `document ${id} not found`);
    res.json(toApi(meta));
  });

  router.get("/documents/:id/export", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    const { format } = parse(exportQuerySchema, req.query, "query");
    await access(req, id, "read");
    const meta = await store.get(id);
    if (!meta) throw new HttpError(404, "not_found", `document ${id} not found`);
    // An open room holds the newest state (edits not yet saved included);
    // otherwise everything is in the store.
    const room = rooms.get(id);
    const stored = room ? [] : await store.load(id);
    const state = room ? Y.encodeStateAsUpdate(room.doc) : mergeStored(stored);
    const file = await convert(() => formats.exportDocument(state, format));
    res
      .status(200)
      .type(file.contentType)
      .set("content-disposition", attachmentDisposition(meta.title || id, file.extension))
      .set("cache-control", "no-store")
      .send(file.body);
  });

  router.patch("/documents/:id", async (req, res) => {
    if (!req.is("application/json")) {
      throw new HttpError(415, "unsupported_media_type", "send a JSON body (application/json)");
    }
    const id = parse(docIdSchema, req.params.id, "id");
    const { title } = parse(updateBodySchema, req.body ?? {}, "body");
    await access(req, id, "write");
    if (!(await store.get(id))) throw new HttpError(404, "not_found", `document ${id} not found`);
    // The title is shared text in the document: rename as an edit to it,
    // which everyone with the document open sees at once.
    await applyThroughRoom(rooms, id, (doc) => retitle(doc, title.trim()));
    const meta = await store.get(id);
    if (!meta) throw new HttpError(404, "not_found", `document ${id} not found`);
    res.json(toApi(meta));
  });

  // ---- versions ----
  router.get("/documents/:id/versions", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    await access(req, id, "read");
    if (!(await store.get(id))) throw new HttpError(404, "not_found", `document ${id} not found`);
    const versions = await store.listVersions(id, 200);
    res.json({ versions: versions.map(toApiVersion) });
  });

  router.post("/documents/:id/versions", async (req, res) => {
    if (!req.is("application/json")) {
      throw new HttpError(415, "unsupported_media_type", "send a JSON body (application/json)");
    }
    const id = parse(docIdSchema, req.params.id, "id");
    const { name } = parse(versionBodySchema, req.body ?? {}, "body");
    const { user } = await access(req, id, "write");
    if (!(await store.get(id))) throw new HttpError(404, "not_found", `document ${id} not found`);
    const saved = await withRoom(rooms, id, (room) =>
      room.versions.saveNamed(name, user?.name ?? null),
    );
    res.status(201).json(toApiVersion(saved));
  });

  router.get("/documents/:id/versions/:version", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    const versionId = parse(versionIdSchema, req.params.version, "version");
    await access(req, id, "read");
    const found = await store.loadVersion(id, versionId);
    if (!found) throw new HttpError(404, "not_found", `document ${id} has no version ${versionId}`);
    res.json({ ...toApiVersion(found.meta), state: Buffer.from(found.state).toString("base64") });
  });

  router.post("/documents/:id/versions/:version/restore", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    const versionId = parse(versionIdSchema, req.params.version, "version");
    const { user } = await access(req, id, "write");
    const found = await store.loadVersion(id, versionId);
    if (!found) throw new HttpError(404, "not_found", `document ${id} has no version ${versionId}`);
    const author = user?.name ?? null;
    const label = found.meta.name ?? new Date(found.meta.createdAt).toISOString();
    // What is replaced is kept as a version of its own: a restore can be
    // restored away.
    const before = await withRoom(rooms, id, (room) =>
      room.versions.saveNamed(`Before restoring ${label}`.slice(0, TITLE_MAX_LENGTH), author),
    );
    await applyThroughRoom(rooms, id, (doc) => restoreUpdate(doc, found.state));
    res.json({ restored: toApiVersion(found.meta), before: toApiVersion(before) });
  });

  router.delete("/documents/:id", async (req, res) => {
    const id = parse(docIdSchema, req.params.id, "id");
    await access(req, id, "write");
    if (!(await rooms.delete(id)))
      throw new HttpError(404, "not_found", `document ${id} not found`);
    res.status(204).end();
  });

  router.use((req) => {
    throw new HttpError(404, "not_found", `no route ${req.method} ${req.baseUrl}${req.path}`);
  });
  return router;
}

/** Express error handler for JSON APIs: typed errors keep their status, others become 500. */
export function jsonErrorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const { status, code, message } = describeError(error);
    if (status >= 500)
      logger.error({ err: error, method: req.method, url: redactUrl(req.url) }, "request failed");
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({ error: { code, message } });
  };
}

function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return error;
  // body-parser errors carry a 4xx status and a type.
  const e = error as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    const code =
      e.type === "entity.too.large"
        ? "payload_too_large"
        : e.type === "entity.parse.failed"
          ? "invalid_json"
          : "bad_request";
    const message = e.expose && typeof e.message === "string" ? e.message : "bad request";
    if (code === "payload_too_large" && typeof (e as { limit?: unknown }).limit === "number") {
      const limit = (e as { limit: number }).limit;
      return { status: e.status, code, message: `the request body is larger than ${limit} bytes` };
    }
    return { status: e.status, code, message };
  }
  return { status: 500, code: "internal", message: "internal server error" };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${what}.${issue.path.join(".")}` : what;
  throw new HttpError(400, "bad_request", `${where}: ${issue?.message ?? "invalid"}`);
}

/** A fresh id the credential covers: `team-*` gives `team-<random>`. */
function newIdFor(docPattern: string): string {
  if (!docPattern.endsWith("*")) return docPattern;
  return `${docPattern.slice(0, -1)}${generateDocId()}`.slice(0, 64);
}

/** The API as a room peer: it writes, and has nowhere to be sent anything. */
const apiPeer: Peer = {
  id: "http-api",
  readOnly: false,
  user: null,
  send() {},
  close() {},
  probe: async () => true,
};

/**
 * Creates document `id` titled `title` unless it exists (or is being
 * created by a concurrent call). For a document the server itself offers,
 * such as the embedding demo's.
 */
export async function ensureTitledDocument(
  deps: { store: DocStore; rooms: RoomRegistry; now: () => number },
  id: string,
  title: string,
): Promise<void> {
  if (await deps.store.get(id)) return;
  try {
    await deps.store.create({ id, title, at: deps.now() });
  } catch (error) {
    if (error instanceof DocumentExistsError) return;
    throw error;
  }
  await applyThroughRoom(deps.rooms, id, () => encodeTitle(title));
}

/** A conversion, with one too slow for the worker answered as 503. */
async function convert<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ConversionTimeoutError) {
      throw new HttpError(
        503,
        "unavailable",
        `the document could not be converted: ${error.message}`,
      );
    }
    throw error;
  }
}

/**
 * Runs `work` on the document's room (opening it if no client has); a room
 * that refuses (deleted meanwhile, or saves failing) answers 503.
 */
async function withRoom<T>(
  rooms: RoomRegistry,
  docId: string,
  work: (room: Room) => Promise<T>,
): Promise<T> {
  const room = await rooms.acquire(docId);
  try {
    refuseIfRefusing(room, docId);
    return await work(room);
  } finally {
    await rooms.release(docId, room);
  }
}

function refuseIfRefusing(room: Room, docId: string): void {
  const refusal = room.refusal;
  if (refusal) throw new HttpError(503, "unavailable", `document ${docId}: ${refusal.reason}`);
}

/**
 * Applies an edit to the document's room as a peer's edit, so it is saved
 * and broadcast like anyone's. `edit` gets the room's document as it is now
 * and returns the update to apply. Resolves once the edit is durable; a
 * room that refused it meanwhile did not store it, so that answers 503.
 */
function applyThroughRoom(rooms: RoomRegistry, docId: string, edit: (doc: Y.Doc) => Uint8Array) {
  return withRoom(rooms, docId, async (room) => {
    await room.handle(apiPeer, { type: "update", update: edit(room.doc) });
    refuseIfRefusing(room, docId);
  });
}

function toApiVersion(meta: VersionMeta): DocumentVersion {
  return {
    id: meta.id,
    name: meta.name,
    createdAt: new Date(meta.createdAt).toISOString(),
    authors: meta.authors,
    bytes: meta.bytes,
  };
}

function toApi(meta: DocMeta): DocumentMeta {
  return {
    id: meta.id,
    title: meta.title,
    createdAt: new Date(meta.createdAt).toISOString(),
    updatedAt: new Date(meta.updatedAt).toISOString(),
  };
}

/** The update that makes `doc`'s title `title`, replacing what it was. */
function retitle(doc: Y.Doc, title: string): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  const before = Y.encodeStateVector(copy);
  const text = copy.getText(TITLE_FIELD);
  if (text.toString() !== title) {
    copy.transact(() => {
      text.delete(0, text.length);
      text.insert(0, title);
    });
  }
  const update = Y.encodeStateAsUpdate(copy, before);
  copy.destroy();
  return update;
}

function encodeCursor(meta: DocMeta): string {
  return Buffer.from(JSON.stringify({ u: meta.updatedAt, id: meta.id })).toString("base64url");
}

function decodeCursor(cursor: string): { updatedAt: number; id: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new HttpError(400, "bad_request", "query.cursor: not a cursor from this API");
  }
  const { u, id } = parse(cursorSchema, decoded, "query.cursor");
  return { updatedAt: u, id };
}

/** A stored document's updates as one (an empty document's when there are none). */
function mergeStored(updates: Uint8Array[]): Uint8Array {
  return updates.length === 0 ? Y.encodeStateAsUpdate(new Y.Doc()) : Y.mergeUpdates(updates);
}

function encodeTitle(title: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText(TITLE_FIELD).insert(0, title);
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}
