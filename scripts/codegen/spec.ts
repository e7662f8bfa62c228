/** Kafka's message JSON definitions, parsed and normalised the way Kafka's own generator reads them. */

export const MAX_VERSION = 0x7fff;

/** An inclusive version range; empty when lo > hi. */
export interface Versions {
  readonly lo: number;
  readonly hi: number;
}

export const NO_VERSIONS: Versions = { lo: 1, hi: 0 };

export function parseVersions(text: string | undefined, fallback: Versions | null): Versions | null {
  if (text === undefined || text === null) return fallback;
  const s = String(text).trim();
  if (s === "none") return NO_VERSIONS;
  if (s.endsWith("+")) return { lo: Number.parseInt(s.slice(0, -1), 10), hi: MAX_VERSION };
  const dash = s.indexOf("-");
  if (dash > 0)
    return { lo: Number.parseInt(s.slice(0, dash), 10), hi: Number.parseInt(s.slice(dash + 1), 10) };
  const single = Number.parseInt(s, 10);
  if (Number.isNaN(single)) throw new Error(`invalid versions "${s}"`);
  return { lo: single, hi: single };
}

export function isEmpty(v: Versions): boolean {
  return v.lo > v.hi;
}

export function intersect(a: Versions, b: Versions): Versions {
  const lo = Math.max(a.lo, b.lo);
  const hi = Math.min(a.hi, b.hi);
  return lo > hi ? NO_VERSIONS : { lo, hi };
}

export function contains(outer: Versions, inner: Versions): boolean {
  return isEmpty(inner) || (outer.lo <= inner.lo && inner.hi <= outer.hi);
}

export function hull(a: Versions, b: Versions): Versions {
  if (isEmpty(a)) return b;
  if (isEmpty(b)) return a;
  return { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}

/** The versions in `a` and not in `b` (tagged versions are always open-ended, so one range suffices). */
export function subtract(a: Versions, b: Versions): Versions {
  if (isEmpty(b) || isEmpty(a)) return a;
  if (b.lo <= a.lo && b.hi >= a.hi) return NO_VERSIONS;
  if (b.lo > a.lo && b.hi >= a.hi) return { lo: a.lo, hi: Math.min(a.hi, b.lo - 1) };
  if (b.lo <= a.lo && b.hi < a.hi) return { lo: Math.max(a.lo, b.hi + 1), hi: a.hi };
  throw new Error(`cannot subtract ${formatVersions(b)} from ${formatVersions(a)}: result is not a range`);
}

export function formatVersions(v: Versions): string {
  if (isEmpty(v)) return "none";
  if (v.hi === MAX_VERSION) return `${v.lo}+`;
  if (v.lo === v.hi) return `${v.lo}`;
  return `${v.lo}-${v.hi}`;
}

export type PrimitiveType =
  | "bool"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "float64"
  | "uuid"
  | "string"
  | "bytes"
  | "records";

export type FieldType =
  | { readonly kind: "primitive"; readonly name: PrimitiveType }
  | { readonly kind: "struct"; readonly name: string }
  | { readonly kind: "array"; readonly element: FieldType };

const PRIMITIVES = new Set<string>([
  "bool",
  "int8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "float64",
  "uuid",
  "string",
  "bytes",
  "records",
]);

export function parseType(text: string): FieldType {
  if (text.startsWith("[]")) return { kind: "array", element: parseType(text.slice(2)) };
  if (PRIMITIVES.has(text)) return { kind: "primitive", name: text as PrimitiveType };
  if (!/^[A-Z][A-Za-z0-9]*$/.test(text)) throw new Error(`invalid type "${text}"`);
  return { kind: "struct", name: text };
}

export function formatType(t: FieldType): string {
  if (t.kind === "array") return `[]${formatType(t.element)}`;
  return t.name;
}

export interface FieldSpec {
  readonly jsonName: string;
  /** camelCase name used in TypeScript. */
  readonly name: string;
  readonly type: FieldType;
  readonly versions: Versions;
  readonly nullableVersions: Versions;
  readonly taggedVersions: Versions;
  readonly tag: number | null;
  /** The JSON default, "" when absent (Kafka's convention). */
  readonly default: string;
  readonly ignorable: boolean;
  /** Field-level override of the message's flexible versions (strings and bytes only). */
  readonly flexibleVersions: Versions | null;
  readonly about: string;
  /**
   * The kind of entity the field names (`entityType` in the JSON: "groupId", "topicName",
   * "transactionalId", "producerId", "brokerId"), null when it has none.
   */
  readonly entityType: string | null;
}

export interface StructSpec {
  readonly name: string;
  readonly versions: Versions;
  readonly fields: readonly FieldSpec[];
}

export type MessageKind = "request" | "response" | "header" | "data";

export interface MessageSpec {
  readonly fileName: string;
  readonly name: string;
  readonly kind: MessageKind;
  readonly apiKey: number | null;
  readonly validVersions: Versions;
  readonly flexibleVersions: Versions;
  readonly latestVersionUnstable: boolean;
  readonly listeners: readonly string[];
  readonly top: StructSpec;
  /** Every struct in the file by type name (top level excluded), in definition order. */
  readonly structs: ReadonlyMap<string, StructSpec>;
}

/** Removes `//` comments outside string literals (Kafka's JSON files carry them). */
export function stripJsonComments(text: string): string {
  let out = "";
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") {
        out += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
    } else if (c === '"') {
      inString = true;
      out += c;
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * JSON field name to TypeScript: split into words at case changes (an acronym is one word), lowercase
 * the first word and capitalise the others: ThrottleTimeMs -> throttleTimeMs, TopicID -> topicId,
 * KRaftVersion -> kRaftVersion.
 */
export function camelCase(name: string): string {
  const words = name.match(/[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+/g);
  if (words === null || words.join("") !== name) throw new Error(`cannot split field name "${name}"`);
  return words
    .map((w, i) => (i === 0 ? w.toLowerCase() : w[0].toUpperCase() + w.slice(1).toLowerCase()))
    .join("");
}

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  about?: string;
  entityType?: string;
  fields?: RawField[];
}

interface RawMessage {
  name: string;
  type: string;
  apiKey?: number;
  validVersions: string;
  flexibleVersions?: string;
  latestVersionUnstable?: boolean;
  listeners?: string[];
  fields: RawField[];
  commonStructs?: { name: string; versions: string; fields: RawField[] }[];
}

export function parseMessage(fileName: string, jsonText: string): MessageSpec {
  const raw = JSON.parse(stripJsonComments(jsonText)) as RawMessage;
  const kind = raw.type as MessageKind;
  if (!["request", "response", "header", "data"].includes(kind)) {
    throw new Error(`${fileName}: unsupported message type ${raw.type}`);
  }
  const validVersions = parseVersions(raw.validVersions, null)!;
  const flexibleVersions = parseVersions(raw.flexibleVersions, NO_VERSIONS)!;
  const structs = new Map<string, StructSpec>();
  const register = (s: StructSpec) => {
    if (structs.has(s.name)) throw new Error(`${fileName}: struct ${s.name} is defined twice`);
    structs.set(s.name, s);
  };
  const parseFields = (fields: RawField[], where: string): FieldSpec[] => {
    const out: FieldSpec[] = [];
    const names = new Set<string>();
    for (const f of fields) {
      const spec = parseField(f, `${where}.${f.name}`);
      if (names.has(spec.name)) throw new Error(`${fileName}: duplicate field ${where}.${spec.name}`);
      names.add(spec.name);
      out.push(spec);
      if (f.fields !== undefined) {
        const t = spec.type.kind === "array" ? spec.type.element : spec.type;
        if (t.kind !== "struct")
          throw new Error(`${fileName}: ${where}.${f.name} has fields but no struct type`);
        register({ name: t.name, versions: spec.versions, fields: parseFields(f.fields, t.name) });
      }
    }
    return out;
  };
  const parseField = (f: RawField, where: string): FieldSpec => {
    const taggedVersions = parseVersions(f.taggedVersions, NO_VERSIONS)!;
    const versions = parseVersions(f.versions, isEmpty(taggedVersions) ? null : taggedVersions);
    if (versions === null) throw new Error(`${fileName}: ${where} has no versions`);
    if ((f.tag === undefined) !== isEmpty(taggedVersions)) {
      throw new Error(`${fileName}: ${where} must have both tag and taggedVersions, or neither`);
    }
    return {
      jsonName: f.name,
      name: camelCase(f.name),
      type: parseType(f.type.trim()),
      versions,
      nullableVersions: parseVersions(f.nullableVersions, NO_VERSIONS)!,
      taggedVersions,
      tag: f.tag ?? null,
      default: f.default === undefined ? "" : String(f.default),
      ignorable: f.ignorable === true,
      flexibleVersions: parseVersions(f.flexibleVersions, null),
      about: f.about ?? "",
      entityType: f.entityType ?? null,
    };
  };
  for (const common of raw.commonStructs ?? []) {
    register({
      name: common.name,
      versions: parseVersions(common.versions, null)!,
      fields: parseFields(common.fields ?? [], common.name),
    });
  }
  const top: StructSpec = {
    name: raw.name,
    versions: validVersions,
    fields: parseFields(raw.fields ?? [], raw.name),
  };
  const message: MessageSpec = {
    fileName,
    name: raw.name,
    kind,
    apiKey: raw.apiKey ?? null,
    validVersions,
    flexibleVersions,
    latestVersionUnstable: raw.latestVersionUnstable === true,
    listeners: raw.listeners ?? [],
    top,
    structs,
  };
  validate(message);
  return message;
}

function validate(m: MessageSpec): void {
  const check = (s: StructSpec) => {
    for (const f of s.fields) {
      const where = `${m.fileName}: ${s.name}.${f.jsonName}`;
      const struct = structOf(f.type);
      if (struct !== null && !m.structs.has(struct)) throw new Error(`${where}: unknown struct ${struct}`);
      if (f.type.kind === "array" && f.type.element.kind === "array")
        throw new Error(`${where}: nested array`);
      if (!isEmpty(f.nullableVersions)) {
        const t = f.type;
        const nullable = t.kind !== "primitive" || ["string", "bytes", "records"].includes(t.name);
        if (!nullable) throw new Error(`${where}: type ${formatType(t)} cannot be nullable`);
      }
      if (f.tag !== null) {
        if (f.taggedVersions.hi !== MAX_VERSION)
          throw new Error(`${where}: taggedVersions must be open-ended`);
        if (!contains(f.versions, f.taggedVersions))
          throw new Error(`${where}: taggedVersions not in versions`);
        if (!contains(m.flexibleVersions, f.taggedVersions))
          throw new Error(`${where}: tagged but not flexible`);
      }
    }
  };
  check(m.top);
  for (const s of m.structs.values()) check(s);
}

export function structOf(t: FieldType): string | null {
  if (t.kind === "struct") return t.name;
  if (t.kind === "array" && t.element.kind === "struct") return t.element.name;
  return null;
}
