/**
 * The message definitions as data (generated into `generated/schema.ts`), for tools that walk messages
 * generically: random instances for tests, documentation, introspection.
 * Version ranges are inclusive `[lo, hi]`; hi is 32767 for open-ended ranges.
 */
export type VersionRange = readonly [number, number];

export interface FieldSchema {
  /** camelCase name, as in the generated interfaces. */
  readonly name: string;
  /** Kafka type: "int32", "string", "[]int32", "SomeStruct", "[]SomeStruct", ... */
  readonly type: string;
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange | null;
  readonly taggedVersions: VersionRange | null;
  readonly tag: number | null;
  /** The JSON default ("" when absent, as in Kafka). */
  readonly default: string;
  readonly ignorable: boolean;
  /** Field-level override of the message's flexible versions. */
  readonly flexibleVersions: VersionRange | null;
}

export interface StructSchema {
  readonly name: string;
  readonly versions: VersionRange;
  readonly fields: readonly FieldSchema[];
}

export interface MessageSchema {
  readonly name: string;
  readonly kind: "request" | "response" | "header" | "data";
  readonly apiKey: number | null;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange | null;
  readonly fields: readonly FieldSchema[];
  /** Nested and common structs by type name. */
  readonly structs: Readonly<Record<string, StructSchema>>;
}
