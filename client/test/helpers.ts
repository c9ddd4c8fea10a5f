/** Test doubles shared by the client tests. */
import type { Provider } from "@lexical/yjs";
import { Awareness } from "y-protocols/awareness";
import type * as Y from "yjs";
import { Emitter } from "../src/emitter.ts";

type FakeProviderEvents = {
  sync: (isSynced: boolean) => void;
  status: (event: { status: string }) => void;
  update: (arg: unknown) => void;
  reload: (doc: Y.Doc) => void;
};

/** A provider with no transport: tests move updates between docs by hand. */
export class FakeProvider {
  readonly awareness: Awareness;
  readonly events = new Emitter<FakeProviderEvents>();
  connects = 0;

  constructor(doc: Y.Doc) {
    this.awareness = new Awareness(doc);
  }

  connect(): void {
    this.connects += 1;
  }

  disconnect(): void {}

  on<K extends keyof FakeProviderEvents>(type: K, listener: FakeProviderEvents[K]): void {
    this.events.on(type, listener);
  }

  off<K extends keyof FakeProviderEvents>(type: K, listener: FakeProviderEvents[K]): void {
    this.events.off(type, listener);
  }

  /** The @lexical/yjs view of this object (its awareness typing is stricter than y-protocols'). */
  asLexicalProvider(): Provider {
    return this as unknown as Provider;
  }

  destroy(): void {
    this.awareness.destroy();
  }
}
