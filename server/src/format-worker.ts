/**
 * Worker-thread entry for document conversions (document-format.ts): they
 * run a headless Lexical editor, and for HTML a jsdom, synchronously, which
 * takes seconds for a large document. Here they block only this thread,
 * never the server's event loop and so never anyone's editing.
 *
 * Messages in: { id, op: "export", state, format } or { id, op: "import",
 * content }; out: { id, ok: true, result } or { id, ok: false, message }.
 */
import { parentPort } from "node:worker_threads";
import type { ExportFormat, ImportContent } from "@cowrite/shared";
import { createDocumentFormats } from "./document-format.ts";

export type FormatCall =
  | { op: "export"; state: Uint8Array; format: ExportFormat }
  | { op: "import"; content: ImportContent };

export type FormatRequest = FormatCall & { id: number };

export type FormatResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; message: string };

const formats = createDocumentFormats();

parentPort?.on("message", (request: FormatRequest) => {
  let response: FormatResponse;
  try {
    const result =
      request.op === "export"
        ? formats.exportDocument(request.state, request.format)
        : formats.importContent(request.content);
    response = { id: request.id, ok: true, result };
  } catch (error) {
    response = { id: request.id, ok: false, message: (error as Error).message };
  }
  parentPort?.postMessage(response);
});
