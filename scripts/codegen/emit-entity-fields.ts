import { fieldVersions } from "./emit-field-versions.ts";
import type { MessageSpec } from "./spec.ts";

/**
 * Per request message and entity type, the dotted paths of the fields that name such an entity (the JSON's
 * `entityType`: groupId, topicName, transactionalId, producerId, brokerId), in the order of fieldVersions().
 * A field of a common struct counts at every path the struct is reached by.
 */
export function requestEntityFields(spec: MessageSpec): Map<string, string[]> {
  const byEntity = new Map<string, string[]>();
  for (const entry of fieldVersions(spec)) {
    if (entry.entityType === null) continue;
    const paths = byEntity.get(entry.entityType) ?? [];
    paths.push(entry.path);
    byEntity.set(entry.entityType, paths);
  }
  return byEntity;
}

/** generated/entity-fields.ts: which request fields name groups, topics, transactional ids, ... */
export function emitEntityFields(header: string, specs: readonly MessageSpec[]): string {
  const requests = specs
    .filter((s) => s.kind === "request" && s.apiKey !== null)
    .sort((a, b) => a.name.localeCompare(b.name));
  const tables = requests
    .map((spec) => ({ spec, byEntity: requestEntityFields(spec) }))
    .filter((t) => t.byEntity.size > 0);
  const entityTypes = [...new Set(tables.flatMap((t) => [...t.byEntity.keys()]))].sort();
  const lines: string[] = [header, 'import type { FieldPath, MessageName } from "./field-versions.ts";', ""];
  lines.push(
    "/** The kinds of entity that request fields name (`entityType` in Kafka's message definitions). */",
  );
  lines.push(`export type EntityType = ${entityTypes.map((e) => JSON.stringify(e)).join(" | ")};`);
  lines.push("");
  lines.push(
    `export const ENTITY_TYPES: readonly EntityType[] = [${entityTypes.map((e) => JSON.stringify(e)).join(", ")}];`,
  );
  lines.push("");
  lines.push("/**");
  lines.push(
    " * Per request message, the fields that name each kind of entity, by the dotted camelCase path of",
  );
  lines.push(
    ' * FIELD_VERSIONS ("groups.topics.name"). A field that is an array names one entity per element, and a',
  );
  lines.push(
    " * path through arrays one per element of each. `hasField(message, path, version)` tells which of them a",
  );
  lines.push(
    " * version carries. FindCoordinator's key has no entity type: what it names depends on its key type.",
  );
  lines.push(" */");
  lines.push("export const REQUEST_ENTITY_FIELDS = {");
  for (const { spec, byEntity } of tables) {
    lines.push(`  ${spec.name}: {`);
    for (const entity of [...byEntity.keys()].sort()) {
      const paths = byEntity.get(entity)!.map((p) => JSON.stringify(p));
      lines.push(`    ${entity}: [${paths.join(", ")}],`);
    }
    lines.push("  },");
  }
  lines.push(
    "} as const satisfies { readonly [M in MessageName]?: { readonly [E in EntityType]?: readonly FieldPath<M>[] } };",
  );
  lines.push("");
  lines.push("export type EntityMessageName = keyof typeof REQUEST_ENTITY_FIELDS;");
  lines.push("");
  lines.push("/** The request message of each API key that has entity fields. */");
  lines.push("const MESSAGE_BY_API_KEY: ReadonlyArray<EntityMessageName | undefined> = [");
  const byKey = new Map(tables.map((t) => [t.spec.apiKey!, t.spec.name]));
  const max = Math.max(...byKey.keys());
  for (let key = 0; key <= max; key++) {
    const name = byKey.get(key);
    lines.push(name === undefined ? `  undefined, // ${key}` : `  ${JSON.stringify(name)}, // ${key}`);
  }
  lines.push("];");
  lines.push("");
  lines.push("const NO_PATHS: readonly string[] = [];");
  lines.push("");
  lines.push("/** The request message name of an API key, when its request has entity fields. */");
  lines.push("export function entityMessageOf(apiKey: number): EntityMessageName | undefined {");
  lines.push("  return MESSAGE_BY_API_KEY[apiKey];");
  lines.push("}");
  lines.push("");
  lines.push(
    "/** The paths of the fields of an API's request that name an entity of that type, in any version. */",
  );
  lines.push("export function requestEntityPaths(apiKey: number, entity: EntityType): readonly string[] {");
  lines.push("  const message = MESSAGE_BY_API_KEY[apiKey];");
  lines.push("  if (message === undefined) return NO_PATHS;");
  lines.push(
    "  return (REQUEST_ENTITY_FIELDS[message] as { readonly [E in EntityType]?: readonly string[] })[entity] ?? NO_PATHS;",
  );
  lines.push("}");
  lines.push("");
  lines.push("/** The API keys whose requests have a field naming an entity of that type, ascending. */");
  lines.push("export function apiKeysNaming(entity: EntityType): number[] {");
  lines.push("  const keys: number[] = [];");
  lines.push("  MESSAGE_BY_API_KEY.forEach((_, key) => {");
  lines.push("    if (requestEntityPaths(key, entity).length > 0) keys.push(key);");
  lines.push("  });");
  lines.push("  return keys;");
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
