/**
 * Word and character counts of a text, as writers expect them: words are
 * runs of letters or digits (an apostrophe or hyphen inside a word keeps it
 * one word: "don't", "well-known", and so does a decimal point: "3.5"); characters count everything but line
 * breaks, spaces included, as most editors report by default.
 */
export interface TextCounts {
  words: number;
  characters: number;
}

const wordPattern = /[\p{L}\p{N}]+(?:(?:['’-]|(?<=\p{N})[.,](?=\p{N}))[\p{L}\p{N}]+)*/gu;

export function countText(text: string): TextCounts {
  const words = text.match(wordPattern)?.length ?? 0;
  const characters = [...text.replace(/[\r\n]/g, "")].length;
  return { words, characters };
}

/** "1 word", "12 words"; "1 character", "1,204 characters". */
export function describeCounts({ words, characters }: TextCounts): {
  words: string;
  characters: string;
} {
  const plural = (n: number, one: string, many: string) =>
    `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
  return {
    words: plural(words, "word", "words"),
    characters: plural(characters, "character", "characters"),
  };
}
