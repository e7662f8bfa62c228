/** The entities (groups, topics, transactional ids, ...) a decoded request names, from the generated entity table. */
import {
  type EntityType,
  entityMessageOf,
  FIELD_VERSIONS,
  type FieldVersions,
  requestEntityPaths,
} from "./generated/tables.ts";

export type EntityValue = string | number | bigint;

/** Whether the request of that API key carries the field at `path` at `version`. */
function carries(apiKey: number, path: string, version: number): boolean {
  const message = entityMessageOf(apiKey);
  if (message === undefined) return false;
  const v = (FIELD_VERSIONS[message] as Readonly<Record<string, FieldVersions>>)[path];
  return v !== undefined && version >= v.first && (v.last === null || version <= v.last);
}

/** Every value at `path` below `value`, through arrays at any step; nulls are left out. */
function collect(value: unknown, steps: readonly string[], at: number, out: EntityValue[]): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const element of value) collect(element, steps, at, out);
    return;
  }
  if (at === steps.length) {
    out.push(value as EntityValue);
    return;
  }
  collect((value as Record<string, unknown>)[steps[at]!], steps, at + 1, out);
}

/**
 * The values of the fields of a decoded request (of `apiKey` at `version`) that name entities of that type,
 * in the order of the entity table; fields the version lacks and null values are left out. Group, topic and
 * transactional ids are strings, producer ids bigints, broker ids numbers.
 */
export function requestEntities(
  apiKey: number,
  version: number,
  request: unknown,
  entity: EntityType,
): EntityValue[] {
  const out: EntityValue[] = [];
  for (const path of requestEntityPaths(apiKey, entity)) {
    if (carries(apiKey, path, version)) collect(request, path.split("."), 0, out);
  }
  return out;
}
