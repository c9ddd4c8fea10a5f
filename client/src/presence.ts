/**
 * The "who is here" list: one entry per awareness state that has a name,
 * ourselves first and marked "(you)". Re-renders on every awareness change.
 */
import type { Awareness } from "y-protocols/awareness";

export interface PresenceUser {
  clientId: number;
  name: string;
  color: string;
  isSelf: boolean;
}

/** Connected users from awareness, self first, then by name. */
export function listPresentUsers(awareness: Awareness): PresenceUser[] {
  const users: PresenceUser[] = [];
  for (const [clientId, state] of awareness.getStates()) {
    const name = typeof state.name === "string" ? state.name : "";
    if (!name) continue;
    const color = typeof state.color === "string" ? state.color : "#5f6368";
    users.push({ clientId, name, color, isSelf: clientId === awareness.clientID });
  }
  return users.sort(
    (a, b) =>
      Number(b.isSelf) - Number(a.isSelf) ||
      a.name.localeCompare(b.name) ||
      a.clientId - b.clientId,
  );
}

export interface PresenceList {
  element: HTMLElement;
  destroy(): void;
}

export function createPresenceList(awareness: Awareness): PresenceList {
  const element = document.createElement("ul");
  element.className = "presence";
  element.dataset.testid = "presence";
  element.setAttribute("aria-label", "People in this document");

  const render = (): void => {
    const items = listPresentUsers(awareness).map((user) => {
      const item = document.createElement("li");
      item.className = "presence-user";
      item.dataset.testid = "presence-user";
      item.dataset.clientId = String(user.clientId);
      if (user.isSelf) item.dataset.self = "true";
      const dot = document.createElement("span");
      dot.className = "presence-dot";
      dot.style.backgroundColor = safeColor(user.color);
      dot.setAttribute("aria-hidden", "true");
      const initial = document.createElement("span");
      initial.className = "presence-initial";
      initial.textContent = user.name.slice(0, 1).toUpperCase();
      dot.append(initial);
      const label = document.createElement("span");
      label.className = "presence-name";
      label.textContent = user.isSelf ? `${user.name} (you)` : user.name;
      item.title = label.textContent;
      item.append(dot, label);
      return item;
    });
    element.replaceChildren(...items);
  };

  awareness.on("change", render);
  render();
  return {
    element,
    destroy() {
      awareness.off("change", render);
      element.remove();
    },
  };
}

/** Awareness is peer-controlled: only accept values the browser parses as a colour. */
function safeColor(color: string): string {
  return typeof CSS !== "undefined" && CSS.supports?.("color", color) ? color : "#5f6368";
}
