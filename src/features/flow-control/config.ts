/**
 * The `quotas` section of the proxy's config: produce and fetch byte rates per topic (by anchored regex) and per
 * client id or principal, answered as Kafka's own quotas are. `quotasConfigSchema` validates the section (every
 * problem carries its field path); `normalizeQuotas` turns it into `QuotaSettings`; `parseQuotas` does both.
 */
import { z } from "zod";

export type QuotaMode = "throttle" | "reject";
export type QuotaDirection = "produce" | "fetch";

/** Bytes per second of record batches; undefined leaves that direction unlimited. */
export interface QuotaRates {
  readonly produce: number | undefined;
  readonly fetch: number | undefined;
}

export interface TopicQuota {
  /** The pattern as written in the config: the quota's name in metrics and the admin API. */
  readonly source: string;
  readonly pattern: RegExp;
  readonly rates: QuotaRates;
}

export interface QuotaSharing {
  /** Base URLs of the other instances' admin servers (`http://host:port`), asked for their usage. */
  readonly peers: readonly string[];
  /** How many instances share each limit: with peers unreachable, each enforces limit / instances. */
  readonly instances: number;
  readonly exchangeIntervalMs: number;
}

export interface QuotaSettings {
  readonly mode: QuotaMode;
  /** Seconds of a limit's rate a quota may take at once (its token bucket's size). */
  readonly burstSeconds: number;
  /** Evaluated in config order; a topic takes the first pattern it matches. */
  readonly topics: readonly TopicQuota[];
  /** By client id or principal name. */
  readonly clients: ReadonlyMap<string, QuotaRates>;
  readonly sharing: QuotaSharing;
}

export const NO_QUOTAS: QuotaSettings = {
  mode: "throttle",
  burstSeconds: 1,
  topics: [],
  clients: new Map(),
  sharing: { peers: [], instances: 1, exchangeIntervalMs: 1000 },
};

/** Numbers may come as text, from `${ENV}` substitution. */
const positive = () =>
  z.preprocess(
    (value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value),
    z.number().positive("must be a positive number of bytes per second").finite(),
  );

const rates = z
  .object({
    produce_bytes_per_second: positive().optional(),
    fetch_bytes_per_second: positive().optional(),
  })
  .strict()
  .refine(
    (value) => value.produce_bytes_per_second !== undefined || value.fetch_bytes_per_second !== undefined,
    {
      message: "set produce_bytes_per_second, fetch_bytes_per_second or both",
    },
  );

const peerUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}, "must be an http(s) URL of another instance's admin server, such as http://10.0.0.2:9644");

export const quotasConfigSchema = z
  .object({
    mode: z.enum(["throttle", "reject"]).default("throttle"),
    burst_seconds: z
      .preprocess((value) => (typeof value === "string" ? Number(value) : value), z.number().min(0.1).max(60))
      .default(1),
    topics: z.record(z.string().min(1), rates).default({}),
    clients: z.record(z.string().min(1), rates).default({}),
    sharing: z
      .object({
        peers: z.array(peerUrl).default([]),
        instances: z.number().int().min(1).optional(),
        exchange_interval_ms: z.number().int().min(100).max(60000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((value, context) => {
    for (const pattern of Object.keys(value.topics)) {
      try {
        new RegExp(`^(?:${pattern})$`);
      } catch (error) {
        context.addIssue({
          code: "custom",
          path: ["topics", pattern],
          message: `invalid regular expression: ${(error as Error).message}`,
        });
      }
    }
    const { peers, instances } = value.sharing;
    if (instances !== undefined && instances < peers.length + 1) {
      context.addIssue({
        code: "custom",
        path: ["sharing", "instances"],
        message: `${instances} is fewer than this instance and its ${peers.length} peer(s)`,
      });
    }
  });

export type QuotasConfig = z.output<typeof quotasConfigSchema>;

function normalizeRates(config: z.output<typeof rates>): QuotaRates {
  return { produce: config.produce_bytes_per_second, fetch: config.fetch_bytes_per_second };
}

/** The settings of a validated section; undefined (no section) sets no quota. */
export function normalizeQuotas(config: QuotasConfig | undefined): QuotaSettings {
  if (config === undefined) return NO_QUOTAS;
  return {
    mode: config.mode,
    burstSeconds: config.burst_seconds,
    topics: Object.entries(config.topics).map(([source, entry]) => ({
      source,
      pattern: new RegExp(`^(?:${source})$`),
      rates: normalizeRates(entry),
    })),
    clients: new Map(Object.entries(config.clients).map(([name, entry]) => [name, normalizeRates(entry)])),
    sharing: {
      peers: config.sharing.peers.map((peer) => peer.replace(/\/+$/, "")),
      instances: config.sharing.instances ?? config.sharing.peers.length + 1,
      exchangeIntervalMs: config.sharing.exchange_interval_ms,
    },
  };
}

/** The section is invalid; `problems` lists each, as `field.path: what is wrong`. */
export class QuotasConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid quotas:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "QuotasConfigError";
    this.problems = problems;
  }
}

function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

/**
 * Validates and normalizes a raw `quotas` section (from YAML, or an admin API body). Throws a QuotasConfigError
 * naming every problem by its path below `root`.
 */
export function parseQuotas(raw: unknown, root = "quotas"): QuotaSettings {
  if (raw === undefined || raw === null) return NO_QUOTAS;
  const result = quotasConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new QuotasConfigError(
      result.error.issues.map((issue) => `${fieldPath(root, issue.path)}: ${issue.message}`),
    );
  }
  return normalizeQuotas(result.data);
}
