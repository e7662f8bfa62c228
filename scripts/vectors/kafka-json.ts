// Compares what our decoder read with what Kafka read from the same bytes, as Kafka's generated
// JsonConverter writes it: catches fields that round-trip byte for byte yet land in the wrong place
// (two same-typed fields swapped, a misnamed field, a wrong default). Every field Kafka writes must
// match ours; fields Kafka leaves out (absent at the version, tagged and at default) are not compared.
import type { FieldSchema, MessageSchema, VersionRange } from "../../src/protocol/schema-types.ts";

/** A JSON number kept as Kafka printed it, so int64 values survive parsing. */
class JsonNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

type JsonReviver = (key: string, value: unknown, context: { source?: string }) => unknown;

export function parseKafkaJson(text: string): unknown {
  const reviver: JsonReviver = (_key, value, context) =>
    typeof value === "number" && context.source !== undefined ? new JsonNumber(context.source) : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

const RECORDS_SIZE_SUFFIX = "SizeInBytes";

/**
 * Differences between our decoded message and Kafka's JSON of it, one line each with a field path. A
 * field name Kafka has and we lack is a difference, unless `onOtherName` takes it (another release may
 * have named a field differently: the values of such fields are then not compared).
 */
export function compareWithKafkaJson(
  schema: MessageSchema,
  version: number,
  ours: Record<string, unknown>,
  kafka: unknown,
  onOtherName?: (path: string) => void,
): string[] {
  const differences: string[] = [];

  const compareValue = (path: string, type: string, mine: unknown, theirs: unknown): void => {
    const differ = (why = ""): void => {
      differences.push(`${path}: ours ${show(mine)}, kafka ${show(theirs)}${why ? ` (${why})` : ""}`);
    };
    if (theirs === null || mine === null) {
      if (theirs !== mine) differ();
      return;
    }
    if (type.startsWith("[]")) {
      if (!Array.isArray(mine) || !Array.isArray(theirs) || mine.length !== theirs.length) {
        differ("length");
        return;
      }
      const element = type.slice(2);
      mine.forEach((item, i) => {
        compareValue(`${path}[${i}]`, element, item, theirs[i]);
      });
      return;
    }
    switch (type) {
      case "bool":
      case "string":
        if (mine !== theirs) differ();
        return;
      case "int8":
      case "int16":
      case "uint16":
      case "int32":
      case "uint32":
      case "float64":
        if (!(theirs instanceof JsonNumber) || Number(theirs.source) !== mine) differ();
        return;
      case "int64":
        if (!(theirs instanceof JsonNumber) || BigInt(theirs.source) !== mine) differ();
        return;
      case "uuid":
        if (typeof theirs !== "string" || Buffer.from(theirs, "base64url").toString("hex") !== mine) differ();
        return;
      case "bytes":
        if (
          typeof theirs !== "string" ||
          !Buffer.isBuffer(mine) ||
          !Buffer.from(theirs, "base64").equals(mine)
        ) {
          differ();
        }
        return;
      default: {
        const struct = schema.structs[type];
        if (struct === undefined) differ(`unknown type ${type}`);
        else compareStruct(path, struct.fields, mine as Record<string, unknown>, theirs);
      }
    }
  };

  const compareStruct = (
    path: string,
    fields: readonly FieldSchema[],
    mine: Record<string, unknown>,
    theirs: unknown,
  ): void => {
    if (theirs === null || typeof theirs !== "object" || Array.isArray(theirs)) {
      differences.push(`${path}: kafka wrote ${show(theirs)} for a struct`);
      return;
    }
    const byLowerName = new Map(
      fields.filter((f) => inRange(f.versions, version)).map((f) => [f.name.toLowerCase(), f]),
    );
    for (const [key, value] of Object.entries(theirs)) {
      const fieldPath = path === "" ? key : `${path}.${key}`;
      const field = byLowerName.get(key.toLowerCase());
      if (field !== undefined) {
        compareValue(fieldPath, field.type, mine[field.name], value);
        continue;
      }
      const records = key.endsWith(RECORDS_SIZE_SUFFIX)
        ? byLowerName.get(key.slice(0, -RECORDS_SIZE_SUFFIX.length).toLowerCase())
        : undefined;
      if (records?.type === "records") {
        const buffer = mine[records.name];
        const size = value instanceof JsonNumber ? Number(value.source) : Number.NaN;
        if (!Buffer.isBuffer(buffer) || buffer.length !== size) {
          differences.push(`${fieldPath}: ours ${show(buffer)}, kafka ${size} bytes`);
        }
        continue;
      }
      if (onOtherName) onOtherName(`${schema.name} v${version} ${fieldPath.replace(/\[\d+\]/g, "[]")}`);
      else differences.push(`${fieldPath}: kafka has a field our ${schema.name} v${version} does not`);
    }
  };

  compareStruct("", schema.fields, ours, kafka);
  return differences;
}

function show(value: unknown): string {
  if (value instanceof JsonNumber) return value.source;
  if (Buffer.isBuffer(value)) return `<${value.length} bytes ${value.toString("hex").slice(0, 64)}>`;
  if (typeof value === "bigint") return `${value}n`;
  const text =
    JSON.stringify(value, (_key, v) => (v instanceof JsonNumber ? Number(v.source) : v)) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}
