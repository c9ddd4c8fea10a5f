/**
 * Cowrite's service worker: keeps the app page and its assets so that a
 * document can be reloaded, and written in, without a network. The
 * document itself comes from the copy in IndexedDB (local-copy.ts); nothing
 * here touches the API, the WebSocket or the embedding library.
 *
 * - Pages (`/`, `/d/<id>`): from the network when it answers (within 4 s
 *   if a copy is kept), else the kept copy of the app page (one page serves
 *   every route). Only the server's own app page is kept (it says so with
 *   `X-Cowrite-App: 1`), never a proxy's login or error page.
 * - `/assets/*` (content-hashed, never change) and the favicon: from the
 *   cache, else the network, kept for next time.
 * - Install keeps the current app page and the assets it names; activate
 *   drops caches of older versions and takes over open pages.
 */
const CACHE = "cowrite-app-v1";
const APP_PAGE = "/";
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const response = await fetch(APP_PAGE, { cache: "no-cache" });
      if (!isAppPage(response)) return;
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
  const fromNetwork = fetch(request).then(async (response) => {
    if (isAppPage(response)) {
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
  });
  // A network that takes connections but never answers (a weak signal, a
  // captive portal) gets NETWORK_WAIT_MS before the kept page is used.
  const kept = await cache.match(APP_PAGE);
  if (kept === undefined) return fromNetwork;
  const timedOut = new Promise((resolve) => setTimeout(() => resolve(kept), NETWORK_WAIT_MS));
  return Promise.race([fromNetwork.catch(() => kept), timedOut]);
}

/**
 * Only Cowrite's own page is kept: not an error page, nor a login page a
 * proxy or gateway answered with instead (a redirect to it, or its HTML).
 */
function isAppPage(response) {
  return (
    response.ok &&
    !response.redirected &&
    (response.headers.get("content-type") ?? "").startsWith("text/html") &&
    response.headers.get("x-cowrite-app") === "1"
  );
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept !== undefined) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
