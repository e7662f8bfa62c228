/**
 * The protocol's tables as hand-written code uses them: api keys, error codes, message types, field versions,
 * the request fields that name entities (groups, topics, transactional ids, ...).
 */

/** The entities a decoded request names (by the generated REQUEST_ENTITY_FIELDS). */
export { type EntityValue, requestEntities } from "./entities.ts";
export * from "./generated/tables.ts";

/** The topic id of a topic named by name only. */
export const ZERO_UUID = "0".repeat(32);
