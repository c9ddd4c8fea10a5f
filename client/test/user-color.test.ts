import { describe, expect, it } from "vitest";
import { USER_COLORS } from "../src/identity.ts";
import { type ColorHolder, isSimilarColor, pickDistinctColor } from "../src/user-color.ts";

// The palette's first colours, in order (identity.ts).
const [red, orange, amber, green] = ["#d93025", "#e8710a", "#b06000", "#188038"];
const blue = "#1a73e8";
const crimson = "#c5221f";
const emerald = "#0b8043";

describe("isSimilarColor", () => {
  it("finds a colour similar to itself, whatever its spelling", () => {
    expect(isSimilarColor("#1a73e8", "#1A73E8")).toBe(true);
    expect(isSimilarColor("#fff", "#ffffff")).toBe(true);
  });

  it("finds the palette's near twins similar and its other colours not", () => {
    expect(isSimilarColor(red, crimson)).toBe(true);
    expect(isSimilarColor(green, emerald)).toBe(true);
    expect(isSimilarColor(red, blue)).toBe(false);
    expect(isSimilarColor(orange, amber)).toBe(false);
  });

  it("compares colours it cannot parse by their text only", () => {
    expect(isSimilarColor("rebeccapurple", "RebeccaPurple")).toBe(true);
    expect(isSimilarColor("rebeccapurple", "#663399")).toBe(false);
  });
});

describe("pickDistinctColor", () => {
  it("keeps the colour when nobody else has it or a similar one", () => {
    const others = [{ clientId: 1, color: blue }];
    expect(pickDistinctColor({ current: red, preferred: red, selfId: 5, others })).toBe(red);
  });

  it("keeps the colour when the one who shares it has the higher client id", () => {
    const others = [{ clientId: 9, color: red }];
    expect(pickDistinctColor({ current: red, preferred: red, selfId: 5, others })).toBe(red);
  });

  it("switches to the first free palette colour when a lower client id has it", () => {
    const others = [{ clientId: 1, color: red }];
    expect(pickDistinctColor({ current: red, preferred: red, selfId: 5, others })).toBe(orange);
  });

  it("switches away from a similar colour, too", () => {
    const others = [{ clientId: 1, color: crimson }];
    expect(pickDistinctColor({ current: red, preferred: red, selfId: 5, others })).toBe(orange);
  });

  it("avoids every colour in use, higher client ids' included", () => {
    const others = [
      { clientId: 1, color: red },
      { clientId: 7, color: orange },
      { clientId: 8, color: amber },
    ];
    expect(pickDistinctColor({ current: red, preferred: red, selfId: 5, others })).toBe(green);
  });

  it("goes back to the preferred colour when it is free", () => {
    const others = [{ clientId: 1, color: orange }];
    expect(pickDistinctColor({ current: orange, preferred: blue, selfId: 5, others })).toBe(blue);
  });

  it("when every colour is taken, avoids at least those who keep theirs", () => {
    const others = USER_COLORS.map((color, index) => ({ clientId: index + 10, color }));
    const lowest = { clientId: 1, color: red };
    const picked = pickDistinctColor({
      current: red,
      preferred: red,
      selfId: 5,
      others: [lowest, ...others],
    });
    expect(isSimilarColor(picked, red)).toBe(false);
    expect(USER_COLORS).toContain(picked);
  });

  it("two people with one colour end up with two, whoever looks first", () => {
    // Each applies the rule to what it sees of the other; only the higher id moves.
    for (const lowerLooksFirst of [true, false]) {
      const people: ColorHolder[] = [
        { clientId: 3, color: blue },
        { clientId: 8, color: blue },
      ];
      const order = lowerLooksFirst ? [0, 1] : [1, 0];
      for (let round = 0; round < 3; round++) {
        for (const index of order) {
          const self = people[index] as ColorHolder;
          self.color = pickDistinctColor({
            current: self.color,
            preferred: blue,
            selfId: self.clientId,
            others: people.filter((other) => other !== self),
          });
        }
      }
      expect(people[0]?.color).toBe(blue);
      expect(isSimilarColor(people[0]?.color ?? "", people[1]?.color ?? "")).toBe(false);
    }
  });
});
