/**
 * Entry point: picks the page for the current path and swaps pages on
 * in-app navigation (links with a same-origin href) and back/forward.
 */
import "./styles.css";
import { createDocumentsApi } from "./api.ts";
import { mountDocumentPage } from "./doc-page.ts";
import { el } from "./dom.ts";
import { browserStore, loadIdentity } from "./identity.ts";
import { mountListPage } from "./list-page.ts";
import { deleteLocalCopy, localCopyName } from "./local-copy.ts";
import { type Page, parseRoute } from "./router.ts";
import { loadToken, localCopyUser, sessionStore } from "./token.ts";

export function startApp(container: HTMLElement): Page {
  // Read ?token= once: it is remembered for this tab and dropped from the URL (see token.ts).
  const token = loadToken(sessionStore(), window.location.search);
  const api = createDocumentsApi({ token: () => token });
  const store = browserStore();
  // Read ?name= once: it sets the remembered name and is then dropped from the URL.
  loadIdentity(store, window.location.search);
  const wsUrl = `${window.location.protocol === "https:" ? "wss:" : "ws:"}//${window.location.host}/ws`;
  let current: Page | null = null;

  const render = (): void => {
    current?.destroy();
    const route = parseRoute(window.location.pathname);
    switch (route.page) {
      case "list":
        current = mountListPage(container, {
          api,
          navigate,
          token,
          onDeleted: (id) => {
            const user = localCopyUser(token);
            if (user !== null) void deleteLocalCopy(localCopyName(wsUrl, user, id));
          },
        });
        break;
      case "document":
        current = mountDocumentPage(container, {
          docId: route.docId,
          identity: loadIdentity(store, ""),
          store,
          wsUrl,
          token,
          api,
        });
        break;
      case "invalid-document":
        current = mountMessagePage(
          container,
          "This document link is not valid",
          "Document links look like /d/ followed by letters, digits, - or _. Check the link you were given.",
        );
        break;
      case "not-found":
        current = mountMessagePage(
          container,
          "Page not found",
          `There is nothing at ${route.path}.`,
        );
        break;
    }
  };

  function navigate(path: string): void {
    window.history.pushState(null, "", path);
    render();
  }

  const onClick = (event: MouseEvent): void => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (!(event.target instanceof Element)) return;
    const anchor = event.target.closest("a");
    if (anchor === null || anchor.target || anchor.hasAttribute("download")) return;
    // Links inside the editor are content, not app navigation.
    if (anchor.closest("[contenteditable]")) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (parseRoute(url.pathname).page === "not-found") return;
    event.preventDefault();
    if (url.pathname !== window.location.pathname) navigate(url.pathname);
  };

  const search = new URLSearchParams(window.location.search);
  if (search.has("name") || search.has("token")) {
    const url = new URL(window.location.href);
    url.searchParams.delete("name");
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", render);
  render();

  return {
    destroy() {
      document.removeEventListener("click", onClick);
      window.removeEventListener("popstate", render);
      current?.destroy();
      current = null;
    },
  };
}

function mountMessagePage(container: HTMLElement, heading: string, message: string): Page {
  document.title = `${heading} – Cowrite`;
  const page = el("main", { className: "message-page", testid: "error-page" }, [
    el("h1", { text: heading }),
    el("p", { text: message }),
    el("a", { className: "button button-primary", href: "/", text: "Go to all documents" }),
  ]);
  container.replaceChildren(page);
  return { destroy: () => page.remove() };
}

/**
 * The service worker (public/sw.js) keeps the app's page and assets, so a
 * document opened before can be reloaded, and written in, while offline.
 */
function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch((error: unknown) => {
    console.warn("[cowrite] no offline page: the service worker did not register", error);
  });
}

const root = document.getElementById("app");
if (root !== null) {
  startApp(root);
  registerServiceWorker();
}
