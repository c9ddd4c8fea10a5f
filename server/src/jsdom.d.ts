/** The part of jsdom (which ships no types) that document-format.ts uses. */
declare module "jsdom" {
  export class JSDOM {
    constructor(html?: string);
    readonly window: Window & typeof globalThis;
  }
}
