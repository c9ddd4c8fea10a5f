/**
 * Cowrite's service worker: keeps the app page and its assets so that a
 * document can be reloaded, and written in, without a network. The
 * document itself comes from the copy in IndexedDB (local-copy.ts); nothing
 * here touches the API, the WebSocket or the embedding library.
 *
 * - Pages (`/`, `/d/<id>`): from the network when it answers, else the
 *   kept copy of the app page (one page serves every route).
 * - `/assets/*` (content-hashed, never change) and the favicon: from the
 *   cache, else the network, kept for next time.
 * - Install keeps the current app page and the assets it names; activate
 *   drops caches of older versions and takes over open pages.
 */
const CACHE = "cowrite-app-v1";
const APP_PAGE = "/";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const response = await fetch(APP_PAGE, { cache: "no-cache" });
      if (!response.ok) return;
      const html = await response.clone().text();
      const assets = [...new Set(html.match(/\/assets\/[^"'\s)]+/g) ?? [])];
      await cache.addAll([...assets, "/favicon.svg"]);
      await cache.put(APP_PAGE, response);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && (url.pathname === "/" || url.pathname.startsWith("/d/"))) {
    event.respondWith(appPage(request));
  } else if (url.pathname.startsWith("/assets/") || url.pathname === "/favicon.svg") {
    event.respondWith(asset(request));
  }
});

async function appPage(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) {
      // Every route gets the same page: the fresh one replaces the kept one,
      // and assets of older builds it no longer names are dropped.
      const html = await response.clone().text();
      await cache.put(APP_PAGE, response.clone());
      for (const kept of await cache.keys()) {
        const path = new URL(kept.url).pathname;
        if (path.startsWith("/assets/") && !html.includes(path)) await cache.delete(kept);
      }
    }
    return response;
  } catch (error) {
    const kept = await cache.match(APP_PAGE);
    if (kept !== undefined) return kept;
    throw error;
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept !== undefined) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
