/** The protocol's tables as hand-written code uses them: api keys, error codes, message types, field versions. */
export * from "./generated/tables.ts";

/** The topic id of a topic named by name only. */
export const ZERO_UUID = "0".repeat(32);
