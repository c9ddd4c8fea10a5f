/**
 * Configuration from the environment, validated once at start. A bad value
 * stops the server with a message that names the variable.
 */
import path from "node:path";
import { z } from "zod";
import { type HostPattern, isLoopbackAddress, loopbackHosts, parseHost } from "./host-allowlist.ts";

const bytes = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(1234),
    HOST: z.string().min(1).default("127.0.0.1"),
    DATA_DIR: z.string().min(1).default("./data"),
    // Set: documents live in PostgreSQL (several servers may share it);
    // unset: in SQLite under DATA_DIR.
    DATABASE_URL: z
      .string()
      .refine(isPostgresUrl, "must be a postgres:// or postgresql:// URL")
      .optional(),
    // Set (with DATABASE_URL): cluster mode, several servers relaying live
    // edits and presence to each other through this Redis.
    REDIS_URL: z.string().refine(isRedisUrl, "must be a redis:// or rediss:// URL").optional(),
    ADVERTISE_URL: z
      .string()
      .refine((value) => /^https?:\/\/[^/]+\/?$/.test(value), "must be http(s)://host:port")
      .optional(),
    LOG_LEVEL: z
      .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
      .default("info"),
    CLIENT_DIR: z.string().min(1).optional(),
    HEARTBEAT_MS: z.coerce.number().int().min(0).default(30_000),
    COMPACT_EVERY: z.coerce.number().int().min(2).default(500),
    MAX_MESSAGE_BYTES: bytes(32 * 1024 * 1024),
    MAX_QUEUED_MESSAGES: z.coerce.number().int().positive().default(1000),
    MAX_QUEUED_BYTES: bytes(64 * 1024 * 1024),
    MAX_BUFFERED_BYTES: bytes(64 * 1024 * 1024),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(3000),
    MAX_MESSAGES_PER_SECOND: z.coerce.number().int().positive().default(200),
    MAX_AWARENESS_BYTES: bytes(64 * 1024),
    MAX_CONNECTIONS_PER_DOCUMENT: z.coerce.number().int().positive().default(500),
    MAX_CONNECTIONS: z.coerce.number().int().positive().default(20_000),
    MAX_OPEN_DOCUMENTS: z.coerce.number().int().positive().default(5_000),
    MAX_DOCUMENTS_PER_SOCKET: z.coerce.number().int().positive().default(64),
    AUTH_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    AUTH_PUBLIC_KEY: z.string().min(1).optional(),
    AUTH_ALGORITHM: z
      .enum(["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"])
      .default("RS256"),
    AUTH_ISSUER: z.string().min(1).optional(),
    AUTH_AUDIENCE: z.string().min(1).optional(),
    ALLOWED_ORIGINS: z
      .string()
      .default("")
      .transform((value) =>
        value
          .split(",")
          .map((origin) => origin.trim())
          .filter(Boolean),
      ),
    // Unset: decided below from HOST. "*": no check.
    ALLOWED_HOSTS: z
      .string()
      .optional()
      .transform((value, ctx): readonly HostPattern[] | null | undefined => {
        if (value === undefined) return undefined;
        if (value.trim() === "*") return null;
        const entries = value
          .split(",")
          .map((entry) => entry.trim())
          .filter(Boolean);
        const patterns = entries.map(parseHost);
        const bad = entries.find((_entry, i) => patterns[i] === null);
        if (bad !== undefined || entries.length === 0) {
          ctx.addIssue({
            code: "custom",
            message:
              bad === undefined
                ? "lists no host"
                : `${JSON.stringify(bad)} is not a host name with an optional :port`,
          });
          return z.NEVER;
        }
        return patterns.filter((pattern): pattern is HostPattern => pattern !== null);
      }),
    METRICS: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((value) => value === "true" || value === "1"),
    TLS_CERT: z.string().min(1).optional(),
    TLS_KEY: z.string().min(1).optional(),
  })
  .refine((c) => !c.REDIS_URL || c.DATABASE_URL, {
    message: "cluster mode needs DATABASE_URL: servers of a cluster share a PostgreSQL database",
    path: ["REDIS_URL"],
  })
  .refine((c) => !c.TLS_CERT === !c.TLS_KEY, {
    message: "TLS_CERT and TLS_KEY must be set together",
    path: ["TLS_CERT"],
  })
  .transform((c) => ({
    ...c,
    // Only a server on loopback is a DNS-rebinding target by default: one
    // listening on a network has names of its own, which we cannot guess.
    ALLOWED_HOSTS:
      c.ALLOWED_HOSTS === undefined
        ? isLoopbackAddress(c.HOST)
          ? loopbackHosts
          : null
        : c.ALLOWED_HOSTS,
  }));

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function readConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) =>
        `${issue.path.join(".")}=${JSON.stringify(env[String(issue.path[0])])}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  return result.data;
}

export function databaseFile(config: Config): string {
  return path.resolve(config.DATA_DIR, "cowrite.db");
}

/** Where documents live, for logs and messages: never the database password. */
export function describeDatabase(config: Config): string {
  if (!config.DATABASE_URL) return databaseFile(config);
  const url = new URL(config.DATABASE_URL);
  if (url.password) url.password = "***";
  return url.toString();
}

/** The Redis of a cluster, for logs: never its password. */
export function describeRedis(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

function isRedisUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "redis:" || protocol === "rediss:";
}

function isPostgresUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "postgres:" || protocol === "postgresql:";
}
