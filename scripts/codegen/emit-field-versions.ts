import {
  type FieldSpec,
  intersect,
  isEmpty,
  MAX_VERSION,
  type MessageSpec,
  structOf,
  type Versions,
} from "./spec.ts";

export interface FieldVersionsEntry {
  /** Dotted camelCase path from the message, e.g. "topics.partitions.lastFetchedEpoch". */
  readonly path: string;
  readonly versions: Versions;
  readonly tag: number | null;
  /** The JSON's `entityType` of the field, null when it has none. */
  readonly entityType: string | null;
}

/**
 * Every field of the message, nested struct fields included, with the versions in which it is present:
 * its own versions within its parent's and within the message's valid versions (kept open-ended).
 * Fields present in no valid version are left out.
 */
export function fieldVersions(spec: MessageSpec): FieldVersionsEntry[] {
  const out: FieldVersionsEntry[] = [];
  const visit = (fields: readonly FieldSpec[], prefix: string, within: Versions, open: readonly string[]) => {
    for (const f of fields) {
      const versions = intersect(f.versions, within);
      if (isEmpty(versions)) continue;
      const path = prefix + f.name;
      out.push({ path, versions, tag: f.tag, entityType: f.entityType });
      const struct = structOf(f.type);
      if (struct === null) continue;
      if (open.includes(struct)) throw new Error(`${spec.fileName}: struct ${struct} contains itself`);
      visit(spec.structs.get(struct)!.fields, `${path}.`, versions, [...open, struct]);
    }
  };
  visit(spec.top.fields, "", { lo: spec.validVersions.lo, hi: MAX_VERSION }, []);
  return out;
}

export function emitFieldVersions(header: string, specs: readonly MessageSpec[]): string {
  const lines: string[] = [header, ""];
  lines.push("export interface FieldVersions {");
  lines.push("  readonly first: number;");
  lines.push("  /** null while every newer version has the field. */");
  lines.push("  readonly last: number | null;");
  lines.push("  /** Present on tagged fields only. */");
  lines.push("  readonly tag?: number;");
  lines.push("}");
  lines.push("");
  lines.push("/**");
  lines.push(
    " * Per message, the versions that carry each field, keyed by the dotted path of camelCase field",
  );
  lines.push(
    ' * names ("topics.partitions.lastFetchedEpoch"). A nested field counts only where its parent is',
  );
  lines.push(" * present, and versions below the message's minimum are left out.");
  lines.push(" */");
  lines.push("export const FIELD_VERSIONS = {");
  for (const spec of [...specs].sort((a, b) => a.name.localeCompare(b.name))) {
    const entries = fieldVersions(spec);
    if (entries.length === 0) {
      lines.push(`  ${spec.name}: {},`);
      continue;
    }
    lines.push(`  ${spec.name}: {`);
    for (const e of entries) {
      const last = e.versions.hi === MAX_VERSION ? "null" : String(e.versions.hi);
      const tag = e.tag === null ? "" : `, tag: ${e.tag}`;
      lines.push(`    ${JSON.stringify(e.path)}: { first: ${e.versions.lo}, last: ${last}${tag} },`);
    }
    lines.push("  },");
  }
  lines.push("} as const satisfies Readonly<Record<string, Readonly<Record<string, FieldVersions>>>>;");
  lines.push("");
  lines.push("export type MessageName = keyof typeof FIELD_VERSIONS;");
  lines.push("export type FieldPath<M extends MessageName> = keyof (typeof FIELD_VERSIONS)[M] & string;");
  lines.push("");
  lines.push(
    "export function fieldVersions<M extends MessageName>(message: M, path: FieldPath<M>): FieldVersions {",
  );
  lines.push("  return (FIELD_VERSIONS[message] as Readonly<Record<string, FieldVersions>>)[path];");
  lines.push("}");
  lines.push("");
  lines.push("export function firstVersion<M extends MessageName>(message: M, path: FieldPath<M>): number {");
  lines.push("  return fieldVersions(message, path).first;");
  lines.push("}");
  lines.push("");
  lines.push(
    "export function lastVersion<M extends MessageName>(message: M, path: FieldPath<M>): number | null {",
  );
  lines.push("  return fieldVersions(message, path).last;");
  lines.push("}");
  lines.push("");
  lines.push(
    "export function hasField<M extends MessageName>(message: M, path: FieldPath<M>, version: number): boolean {",
  );
  lines.push("  const v = fieldVersions(message, path);");
  lines.push("  return version >= v.first && (v.last === null || version <= v.last);");
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
