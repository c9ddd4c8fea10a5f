/**
 * The npm package holds the library build only: the ES module, its types
 * and its CSS, nothing of the app or the server. Builds the library first
 * when it is missing or older than any of its sources (a clean clone runs
 * unit tests before any build; a stale build would test old code).
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const clientDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REQUIRED = ["dist-lib/cowrite.js", "dist-lib/cowrite.css", "dist-lib/types/lib.d.ts"];
/** Everything the library build reads (the client bundles shared/src in). */
const LIB_SOURCES = [
  "src",
  "../shared/src",
  "package.json",
  "vite.lib.config.ts",
  "tsconfig.lib.json",
  "../tsconfig.base.json",
];
const LIB_OUTPUTS = [...REQUIRED, "dist-lib/react.js", "dist-lib/types/react.d.ts"];

/** Latest modification time of a file, or of any file under a folder. */
function newestChange(file: string): number {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(
    stat.mtimeMs,
    ...readdirSync(file).map((entry) => newestChange(path.join(file, entry))),
  );
}

/** How much the build is older than its newest source (0: fresh); Infinity when missing. */
function staleness(): number {
  const outputs = LIB_OUTPUTS.map((file) => path.join(clientDir, file));
  if (!outputs.every((file) => existsSync(file))) return Number.POSITIVE_INFINITY;
  const built = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  const sources = Math.max(...LIB_SOURCES.map((file) => newestChange(path.join(clientDir, file))));
  return Math.max(0, sources - built);
}

interface PackResult {
  files: { path: string }[];
}

let files: string[] = [];

beforeAll(() => {
  if (staleness() > 0) {
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
  it("is tested on a library build newer than every source it was built from", () => {
    expect(staleness()).toBe(0);
  });

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

describe("the packed tarball in a scratch project", () => {
  it("type-checks and builds an app that imports the library, its React component and CSS", () => {
    const scratch = mkdtempSync(path.join(tmpdir(), "cowrite-scratch-"));
    try {
      execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", scratch], {
        cwd: clientDir,
        stdio: "pipe",
      });
      const tarball = readdirSync(scratch).find((file) => file.endsWith(".tgz"));
      if (!tarball) throw new Error("npm pack wrote no tarball");
      // Install the tarball as an app would have it in node_modules; its
      // dependencies come from this workspace (the machine may be offline).
      const installed = path.join(scratch, "node_modules", "@cowrite", "client");
      mkdirSync(installed, { recursive: true });
      execFileSync("tar", [
        "-xzf",
        path.join(scratch, tarball),
        "-C",
        installed,
        "--strip-components=1",
      ]);
      const rootModules = path.join(clientDir, "..", "node_modules");
      for (const dep of [
        "lexical",
        "@lexical",
        "yjs",
        "y-protocols",
        "lib0",
        "react",
        "react-dom",
        "@types",
      ]) {
        const target = path.join(scratch, "node_modules", dep);
        if (!existsSync(target)) symlinkSync(path.join(rootModules, dep), target);
      }
      writeFileSync(
        path.join(scratch, "main.tsx"),
        [
          'import { createEditor, type CowriteEditorOptions } from "@cowrite/client";',
          'import { CowriteEditor } from "@cowrite/client/react";',
          'import "@cowrite/client/style.css";',
          "",
          'const options: CowriteEditorOptions = { serverUrl: "http://127.0.0.1:1234", docId: "scratch" };',
          "export const mount = (element: HTMLElement) => createEditor(element, options);",
          "export const App = () => <CowriteEditor {...options} />;",
          "",
        ].join("\n"),
      );
      writeFileSync(
        path.join(scratch, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "ESNext",
            moduleResolution: "Bundler",
            jsx: "react-jsx",
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            lib: ["ES2023", "DOM"],
            types: [],
          },
          include: ["main.tsx"],
        }),
      );
      const bin = (name: string) => path.join(rootModules, ".bin", name);
      execFileSync(bin("tsc"), ["-p", "tsconfig.json"], { cwd: scratch, stdio: "pipe" });
      writeFileSync(
        path.join(scratch, "vite.config.mjs"),
        'export default { logLevel: "error", build: { outDir: "out", lib: { entry: "main.tsx", formats: ["es"], fileName: "app" } } };\n',
      );
      execFileSync(bin("vite"), ["build"], { cwd: scratch, stdio: "pipe" });
      const built = readdirSync(path.join(scratch, "out"));
      expect(built.some((file) => /^app\.m?js$/.test(file))).toBe(true);
      expect(built.some((file) => file.endsWith(".css"))).toBe(true);
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`${String(error)}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});
