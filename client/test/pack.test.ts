/**
 * The npm package holds the library build only: the ES module, its types
 * and its CSS, nothing of the app or the server. Builds the library first
 * when it is missing (a clean clone runs unit tests before any build).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REQUIRED = ["dist-lib/cowrite.js", "dist-lib/cowrite.css", "dist-lib/types/lib.d.ts"];

interface PackResult {
  files: { path: string }[];
}

let files: string[] = [];

beforeAll(() => {
  if (!REQUIRED.every((file) => existsSync(path.join(clientDir, file)))) {
    execFileSync("npm", ["run", "build:lib"], { cwd: clientDir, stdio: "pipe" });
  }
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: clientDir,
    encoding: "utf8",
  });
  const [result] = JSON.parse(output) as PackResult[];
  files = (result?.files ?? []).map((file) => file.path);
}, 120_000);

describe("npm package", () => {
  it("contains the ES module, the types and the CSS", () => {
    for (const file of [...REQUIRED, "dist-lib/react.js", "dist-lib/types/react.d.ts"]) {
      expect(files).toContain(file);
    }
    expect(files).toContain("package.json");
  });

  it("contains nothing from the server, the app build or the sources", () => {
    const unexpected = files.filter(
      (file) =>
        file !== "package.json" &&
        !/^(README|LICENSE)/i.test(file) &&
        !file.startsWith("dist-lib/"),
    );
    expect(unexpected).toEqual([]);
    expect(files.some((file) => /server/i.test(file))).toBe(false);
  });

  it("has types that refer to no package the tarball does not bring", () => {
    const typesDir = path.join(clientDir, "dist-lib", "types");
    const leaks = readdirSync(typesDir, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith(".d.ts"))
      .filter((file) => /from "@cowrite\//.test(readFileSync(path.join(typesDir, file), "utf8")));
    expect(leaks).toEqual([]);
  });
});
