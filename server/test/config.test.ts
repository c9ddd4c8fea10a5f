import { describe, expect, it } from "vitest";
import { ConfigError, describeDatabase, readConfig } from "../src/config.ts";

const LOOPBACK = [
  { hostname: "localhost", port: null },
  { hostname: "127.0.0.1", port: null },
  { hostname: "[::1]", port: null },
];

describe("ALLOWED_HOSTS", () => {
  it.each([["127.0.0.1"], ["127.1.2.3"], ["localhost"], ["::1"]])(
    "defaults to the loopback names, any port, when HOST is %s",
    (host) => {
      expect(readConfig({ HOST: host }).ALLOWED_HOSTS).toEqual(LOOPBACK);
    },
  );

  it("defaults to the loopback names when HOST is unset (it defaults to 127.0.0.1)", () => {
    expect(readConfig({}).ALLOWED_HOSTS).toEqual(LOOPBACK);
  });

  it.each([["0.0.0.0"], ["::"], ["10.0.0.5"]])(
    "checks nothing by default when HOST is %s",
    (host) => {
      expect(readConfig({ HOST: host }).ALLOWED_HOSTS).toBeNull();
    },
  );

  it("parses names, optional ports and bracketed IPv6 addresses, lower-cased", () => {
    const config = readConfig({
      HOST: "0.0.0.0",
      ALLOWED_HOSTS: " Docs.Example.com, docs.example.com:8443 ,[::1]:1234,10.0.0.5",
    });
    expect(config.ALLOWED_HOSTS).toEqual([
      { hostname: "docs.example.com", port: null },
      { hostname: "docs.example.com", port: 8443 },
      { hostname: "[::1]", port: 1234 },
      { hostname: "10.0.0.5", port: null },
    ]);
  });

  it("replaces the loopback default when set, and * turns the check off", () => {
    expect(readConfig({ ALLOWED_HOSTS: "docs.example.com" }).ALLOWED_HOSTS).toEqual([
      { hostname: "docs.example.com", port: null },
    ]);
    expect(readConfig({ ALLOWED_HOSTS: "*" }).ALLOWED_HOSTS).toBeNull();
  });

  it.each([
    ["a URL", "https://docs.example.com"],
    ["a path", "docs.example.com/x"],
    ["a bad port", "docs.example.com:99999"],
    ["a bare IPv6 address", "::1"],
    ["no host at all", ","],
  ])("refuses %s, naming the variable", (_name, value) => {
    expect(() => readConfig({ ALLOWED_HOSTS: value })).toThrow(ConfigError);
    expect(() => readConfig({ ALLOWED_HOSTS: value })).toThrow(/ALLOWED_HOSTS=/);
  });
});

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

describe("DATABASE_URL", () => {
  it("selects PostgreSQL when set; SQLite under DATA_DIR stays the default", () => {
    expect(readConfig({}).DATABASE_URL).toBeUndefined();
    expect(describeDatabase(readConfig({ DATA_DIR: "/srv/cowrite" }))).toBe(
      "/srv/cowrite/cowrite.db",
    );
    const url = "postgresql://cowrite@db.internal:5432/cowrite";
    expect(readConfig({ DATABASE_URL: url }).DATABASE_URL).toBe(url);
    expect(readConfig({ DATABASE_URL: "postgres://db/cowrite" }).DATABASE_URL).toBeDefined();
  });

  it("never shows the password in descriptions of the database", () => {
    const config = readConfig({ DATABASE_URL: "postgresql://cowrite:hunter2@db:5432/cowrite" });
    expect(describeDatabase(config)).toBe("postgresql://cowrite:***@db:5432/cowrite");
  });

  it.each([
    ["not a URL", "cowrite"],
    ["another scheme", "mysql://db/cowrite"],
  ])("refuses %s, naming the variable", (_name, value) => {
    expect(() => readConfig({ DATABASE_URL: value })).toThrow(/DATABASE_URL=.*postgres:\/\//);
  });
});
