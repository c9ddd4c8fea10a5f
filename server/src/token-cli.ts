/**
 * Mints a Cowrite access token (HS256, signed with AUTH_SECRET).
 *
 *   AUTH_SECRET=... npm run token -- --doc ID --perm write --name Alice [--user alice] [--expires 24h]
 *
 * --doc takes a document id, a prefix ending in `*` (e.g. `team-*`), or `*`.
 * Prints the token on stdout; use it as `?token=` on /d/<id> or /ws/<id>,
 * or as `Authorization: Bearer <token>` on the HTTP API.
 */
import { parseArgs } from "node:util";
import { mintToken } from "./auth.ts";

const usage =
  "usage: AUTH_SECRET=... npm run token -- --doc ID --perm read|write --name NAME [--user ID] [--expires 24h]";

function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`--expires: cannot read "${text}" (try 30m, 12h, 7d)`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      doc: { type: "string" },
      perm: { type: "string", default: "write" },
      name: { type: "string" },
      user: { type: "string" },
      expires: { type: "string", default: "24h" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.error(usage);
    return;
  }
  const secret = process.env.AUTH_SECRET;
  if (!secret) throw new Error("AUTH_SECRET is not set");
  if (!values.doc) throw new Error("--doc is required");
  if (!values.name) throw new Error("--name is required");
  if (values.perm !== "read" && values.perm !== "write") {
    throw new Error("--perm must be read or write");
  }
  const token = await mintToken({
    secret,
    doc: values.doc,
    permission: values.perm,
    name: values.name,
    userId: values.user ?? values.name.toLowerCase().replace(/\s+/g, "-"),
    expiresIn: parseDuration(values.expires),
    issuer: process.env.AUTH_ISSUER,
    audience: process.env.AUTH_AUDIENCE,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(`token: ${(error as Error).message}\n${usage}`);
  process.exit(2);
});
