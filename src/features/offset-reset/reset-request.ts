/** The body of `POST /api/groups/{group}/reset`, checked. */

export type ResetTarget =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "timestamp"; readonly timestamp: bigint }
  | { readonly kind: "offset"; readonly offset: bigint }
  | { readonly kind: "shift"; readonly shift: bigint };

export interface ResetRequest {
  readonly topic: string;
  /** The partitions to move (virtual ones on a virtualized topic); undefined for all. */
  readonly partitions: readonly number[] | undefined;
  readonly to: ResetTarget;
  readonly dryRun: boolean;
  /** The caller's id for this reset: a retried request with the same id answers the first one's result. */
  readonly id: string | undefined;
}

/** A body the reset cannot use; its message names the field. */
export class ResetRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResetRequestError";
  }
}

const FIELDS = new Set(["topic", "partitions", "to", "dry_run", "id"]);
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function integer(value: unknown, field: string): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d{1,19}$/.test(value)) return BigInt(value);
  throw new ResetRequestError(`${field}: expected an integer, got ${JSON.stringify(value)}`);
}

function parseTarget(to: unknown): ResetTarget {
  if (to === "earliest" || to === "latest") return { kind: to };
  if (isRecord(to)) {
    const keys = Object.keys(to);
    if (keys.length === 1) {
      const key = keys[0]!;
      if (key === "timestamp") {
        const timestamp = integer(to.timestamp, "to.timestamp");
        if (timestamp < 0n)
          throw new ResetRequestError("to.timestamp: expected milliseconds since the epoch, >= 0");
        return { kind: "timestamp", timestamp };
      }
      if (key === "offset") {
        const offset = integer(to.offset, "to.offset");
        if (offset < 0n) throw new ResetRequestError("to.offset: expected an offset >= 0");
        return { kind: "offset", offset };
      }
      if (key === "shift") return { kind: "shift", shift: integer(to.shift, "to.shift") };
    }
  }
  throw new ResetRequestError(
    `to: expected "earliest", "latest", {"timestamp": ms}, {"offset": n} or {"shift": n}, got ${JSON.stringify(to)}`,
  );
}

export function parseResetRequest(body: unknown): ResetRequest {
  if (!isRecord(body)) throw new ResetRequestError("the body must be a JSON object");
  for (const key of Object.keys(body)) {
    if (!FIELDS.has(key))
      throw new ResetRequestError(`${key}: unknown field (expected ${[...FIELDS].join(", ")})`);
  }
  const topic = body.topic;
  if (typeof topic !== "string" || topic.length === 0)
    throw new ResetRequestError("topic: expected a topic name");
  let partitions: number[] | undefined;
  if (body.partitions !== undefined) {
    if (!Array.isArray(body.partitions) || body.partitions.length === 0)
      throw new ResetRequestError("partitions: expected a non-empty list of partition numbers");
    partitions = body.partitions.map((p, i) => {
      if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > 0x7fffffff)
        throw new ResetRequestError(
          `partitions[${i}]: expected a partition number, got ${JSON.stringify(p)}`,
        );
      return p;
    });
    partitions = [...new Set(partitions)].sort((a, b) => a - b);
  }
  if (body.to === undefined) throw new ResetRequestError("to: missing");
  const to = parseTarget(body.to);
  if (body.dry_run !== undefined && typeof body.dry_run !== "boolean")
    throw new ResetRequestError("dry_run: expected true or false");
  if (body.id !== undefined && (typeof body.id !== "string" || !ID_PATTERN.test(body.id)))
    throw new ResetRequestError("id: expected 1-100 characters of letters, digits, '.', '_', ':' or '-'");
  return { topic, partitions, to, dryRun: body.dry_run === true, id: body.id as string | undefined };
}
