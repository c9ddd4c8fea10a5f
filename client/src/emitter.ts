/**
 * A minimal typed event emitter. Listeners are called synchronously in the
 * order they were added; a listener added during an emit is not called for
 * that emit (we iterate over a snapshot).
 */
// biome-ignore lint/suspicious/noExplicitAny: listener argument lists vary per event
type Listener = (...args: any[]) => void;

/** `Events` maps each event name to its listener signature. */
export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<K extends keyof Events>(type: K, listener: Events[K]): void {
    let set = this.listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
  }

  off<K extends keyof Events>(type: K, listener: Events[K]): void {
    this.listeners.get(type)?.delete(listener);
  }

  emit<K extends keyof Events>(type: K, ...args: Parameters<Events[K]>): void {
    const set = this.listeners.get(type);
    if (set === undefined) return;
    for (const listener of [...set]) listener(...args);
  }

  clear(): void {
    this.listeners.clear();
  }
}
