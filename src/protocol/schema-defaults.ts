/**
 * Field defaults from the message definitions as data (`generated/schema.ts`): what the generated decoders
 * fill in for fields absent at a version, by Kafka's rules. Takes the schema as an argument, so importing it
 * loads no schema.
 */
import type { FieldSchema, MessageSchema, StructSchema } from "./schema-types.ts";

/** A struct (or message) with every field at its default. */
export function defaultStruct(
  schema: MessageSchema,
  fields: readonly FieldSchema[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = defaultValue(schema, f);
  out.unknownTaggedFields = undefined;
  return out;
}

/** The message with every field at its default (as the decoder fills fields absent at a version). */
export function defaultMessageOf(schema: MessageSchema): Record<string, unknown> {
  return defaultStruct(schema, schema.fields);
}

/** The default of a field, as the generated decoder fills it in (Kafka's rules). */
export function defaultValue(schema: MessageSchema, f: FieldSchema): unknown {
  const d = f.default;
  const type = f.type;
  if (type.startsWith("[]")) return d === "null" ? null : [];
  switch (type) {
    case "bool":
      return d.toLowerCase() === "true";
    case "int8":
    case "int16":
    case "uint16":
    case "int32":
    case "uint32":
      return d === "" ? 0 : Number(parseInteger(d));
    case "int64":
      return d === "" ? 0n : parseInteger(d);
    case "float64":
      return d === "" ? 0 : Number(d);
    case "uuid":
      return d === "" ? "0".repeat(32) : Buffer.from(d, "base64url").toString("hex");
    case "string":
      return d === "null" ? null : d;
    case "bytes":
      return d === "null" ? null : Buffer.alloc(0);
    case "records":
      return null;
    default: {
      if (d === "null") return null;
      const struct: StructSchema | undefined = schema.structs[type];
      if (struct === undefined) throw new Error(`${schema.name}: unknown type ${type}`);
      return defaultStruct(schema, struct.fields);
    }
  }
}

function parseInteger(d: string): bigint {
  const negative = d.startsWith("-");
  const value = BigInt(negative ? d.slice(1) : d);
  return negative ? -value : value;
}
