/**
 * What a subscriber received, with a way to await it: tests wait for the
 * messages they expect instead of sleeping.
 */
export class Inbox {
  readonly messages: { text: string; from: string }[] = [];
  gaps = 0;
  private readonly waiters = new Set<() => void>();

  readonly onMessage = (message: Uint8Array, from: string): void => {
    this.messages.push({ text: new TextDecoder().decode(message), from });
    this.notify();
  };

  readonly onGap = (): void => {
    this.gaps += 1;
    this.notify();
  };

  get texts(): string[] {
    return this.messages.map((message) => message.text);
  }

  /** Resolves once `condition` holds; rejects after `timeoutMs`. */
  until(condition: (inbox: Inbox) => boolean, timeoutMs = 10_000): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out; received ${JSON.stringify(this.texts)}, gaps ${this.gaps}`));
      }, timeoutMs);
      const check = () => {
        if (!condition(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Resolves once `text` has arrived. */
  received(text: string): Promise<void> {
    return this.until((inbox) => inbox.texts.includes(text));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
