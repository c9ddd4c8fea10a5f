/**
 * Serves the built web client: its assets, the app page for / and /d/<id>,
 * the embedding library under /lib and its demo page at /embed-demo.
 * Takes the server's express app (the one module besides server.ts and
 * connection.ts that imports express: express.static does the serving).
 */
import fs from "node:fs";
import path from "node:path";
import express from "express";
import { HttpError } from "./http-api.ts";

export interface ClientOptions {
  /**
   * The document /embed-demo shows when its link names none (?doc=): makes
   * sure it exists and returns its id, so every visit shares one document.
   * Null: the demo needs ?doc=.
   */
  demoDocument: (() => Promise<string>) | null;
}

export function mountClient(
  app: express.Express,
  clientDir: string,
  { demoDocument }: ClientOptions = { demoDocument: null },
): void {
  const indexFile = path.join(clientDir, "index.html");
  app.use(
    express.static(clientDir, {
      index: false,
      setHeaders(res, file) {
        // Vite puts a content hash in asset names, so they never change.
        if (file.includes(`${path.sep}assets${path.sep}`)) {
          res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
        }
        // A new service worker must reach browsers with the build that needs it.
        if (path.basename(file) === "sw.js") res.setHeader("Cache-Control", "no-cache");
      },
    }),
  );
  const sendIndex = (_req: express.Request, res: express.Response) => {
    if (!fs.existsSync(indexFile)) {
      throw new HttpError(
        503,
        "client_not_built",
        "the web client is not built; run npm run build",
      );
    }
    res.setHeader("Cache-Control", "no-cache");
    // Tells the service worker (client/public/sw.js) this is the app page to keep.
    res.setHeader("X-Cowrite-App", "1");
    res.sendFile(indexFile);
  };
  app.get("/", sendIndex);
  // Pages link /favicon.svg; browsers and crawlers still ask for /favicon.ico.
  app.get("/favicon.ico", (_req, res) => {
    res.setHeader("Cache-Control", "public, max-age=86400");
    res.type("image/svg+xml").sendFile(path.join(clientDir, "favicon.svg"));
  });
  app.get("/d/:docId", sendIndex);
  // The embedding library (client/dist-lib, built next to client/dist) and its demo page.
  // Module scripts from other origins are fetched in CORS mode; the library is
  // public and sent without credentials, so any page may load it.
  app.use(
    "/lib",
    express.static(path.join(clientDir, "..", "dist-lib"), {
      index: false,
      setHeaders(res) {
        res.setHeader("Access-Control-Allow-Origin", "*");
      },
    }),
  );
  app.get("/embed-demo", async (req, res) => {
    if (demoDocument !== null && req.query.doc === undefined) {
      res.redirect(302, `/embed-demo?doc=${encodeURIComponent(await demoDocument())}`);
      return;
    }
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(path.join(clientDir, "embed-demo.html"));
  });
}
