import { describe, expect, it } from "vitest";
import { looksLikeMarkdown } from "../src/markdown-paste.ts";

describe("looksLikeMarkdown", () => {
  it.each([
    ["a heading", "# Shopping\nmilk"],
    ["a code fence", "Run this:\n```\nnpm test\n```"],
    ["a quote", "> To be or not to be"],
    ["a bulleted list", "- apples\n- pears"],
    ["a numbered list", "1. first\n2. second"],
    ["bold text", "Buy **milk** today"],
    ["a link", "See [the docs](https://example.com/docs)"],
    ["Windows line ends", "- apples\r\n- pears"],
  ])("takes %s as Markdown", (_name, text) => {
    expect(looksLikeMarkdown(text)).toBe(true);
  });

  it.each([
    ["arithmetic", "5 * 3 = 15"],
    ["a hashtag", "#hashtags are not headings"],
    ["a single dash line", "- just one thought"],
    ["a date range", "2024-01-01 - 2024-02-01"],
    ["prose", "Dear Ada,\nthanks for the notes.\nBest, Grace"],
    ["a bare address", "https://example.com/a_b_c"],
  ])("takes %s as plain text", (_name, text) => {
    expect(looksLikeMarkdown(text)).toBe(false);
  });
});
