import { describe, expect, it } from "vitest";
import { countText, describeCounts } from "../src/word-count.ts";

describe("countText", () => {
  it("counts nothing in an empty or blank text", () => {
    expect(countText("")).toEqual({ words: 0, characters: 0 });
    expect(countText("  \n ")).toEqual({ words: 0, characters: 3 });
  });

  it("counts words across paragraphs and punctuation", () => {
    expect(countText("The quick brown fox.\nJumps — over, the dog!").words).toBe(8);
  });

  it("keeps contractions, hyphenated words and numbers as one word", () => {
    expect(countText("don't well-known 3.5 1,000 l’été").words).toBe(5);
  });

  it("counts letters of any script and characters outside the BMP once", () => {
    expect(countText("Добрый день 你好").words).toBe(3);
    expect(countText("a😀b").characters).toBe(3);
  });

  it("counts spaces but not line breaks as characters", () => {
    expect(countText("ab cd\nef")).toEqual({ words: 3, characters: 7 });
  });
});

describe("describeCounts", () => {
  it("uses singular and plural and groups thousands", () => {
    expect(describeCounts({ words: 1, characters: 1 })).toEqual({
      words: "1 word",
      characters: "1 character",
    });
    expect(describeCounts({ words: 1204, characters: 0 }).words).toBe("1,204 words");
  });
});
