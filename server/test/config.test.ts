import { describe, expect, it } from "vitest";
import { ConfigError, readConfig } from "../src/config.ts";

describe("readConfig", () => {
  it("splits ALLOWED_ORIGINS at commas, trims each and drops empty entries", () => {
    expect(
      readConfig({ ALLOWED_ORIGINS: " https://a.example ,https://b.example:8443,, " })
        .ALLOWED_ORIGINS,
    ).toEqual(["https://a.example", "https://b.example:8443"]);
    expect(readConfig({ ALLOWED_ORIGINS: "*" }).ALLOWED_ORIGINS).toEqual(["*"]);
    // Unset or empty: only the server's own origin (the server adds it).
    expect(readConfig({}).ALLOWED_ORIGINS).toEqual([]);
    expect(readConfig({ ALLOWED_ORIGINS: "" }).ALLOWED_ORIGINS).toEqual([]);
    expect(readConfig({ ALLOWED_ORIGINS: " , " }).ALLOWED_ORIGINS).toEqual([]);
  });

  it("refuses an AUTH_SECRET shorter than 32 characters, naming the variable", () => {
    expect(() => readConfig({ AUTH_SECRET: "s".repeat(31) })).toThrow(ConfigError);
    expect(() => readConfig({ AUTH_SECRET: "s".repeat(31) })).toThrow(/AUTH_SECRET/);
    expect(readConfig({ AUTH_SECRET: "s".repeat(32) }).AUTH_SECRET).toBe("s".repeat(32));
  });
});
