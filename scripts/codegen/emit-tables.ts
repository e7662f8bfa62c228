import { apiLabel } from "./emit-message.ts";
import { type FieldSpec, formatType, isEmpty, type MessageSpec, type Versions } from "./spec.ts";

export interface EmittedMessage {
  readonly spec: MessageSpec;
  readonly module: string;
  /** Names exported by the module (types and functions). */
  readonly exports: readonly string[];
}

export function moduleName(messageName: string): string {
  const words = messageName.match(/[A-Z]+(?=[A-Z][a-z]|[0-9]|$)|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+/g)!;
  return words.map((w) => w.toLowerCase()).join("-");
}

interface Api {
  apiKey: number;
  request: MessageSpec;
  response: MessageSpec;
}

function apis(messages: readonly EmittedMessage[]): Api[] {
  const byKey = new Map<number, Partial<Api>>();
  for (const { spec } of messages) {
    if (spec.apiKey === null || (spec.kind !== "request" && spec.kind !== "response")) continue;
    const entry = byKey.get(spec.apiKey) ?? { apiKey: spec.apiKey };
    entry[spec.kind] = spec;
    byKey.set(spec.apiKey, entry);
  }
  const out: Api[] = [];
  for (const [key, entry] of [...byKey].sort((a, b) => a[0] - b[0])) {
    if (entry.request === undefined || entry.response === undefined) {
      throw new Error(`API key ${key} lacks a request or a response definition`);
    }
    out.push(entry as Api);
  }
  return out;
}

function apiName(request: MessageSpec): string {
  return request.name.replace(/Request$/, "");
}

function flexibleMin(v: Versions, valid: Versions): number {
  return isEmpty(v) ? -1 : Math.max(v.lo, isEmpty(valid) ? v.lo : 0);
}

export function emitApiKeys(
  header: string,
  messages: readonly EmittedMessage[],
  removedSpecs: readonly MessageSpec[],
): string {
  const live = apis(messages);
  const removed = removedSpecs
    .filter((s) => s.kind === "request" && s.apiKey !== null)
    .sort((a, b) => a.apiKey! - b.apiKey!)
    .map((request) => ({ apiKey: request.apiKey!, request }));
  const lines: string[] = [header, 'import { KafkaProtocolError } from "../errors.ts";', ""];
  lines.push("export const ApiKey = {");
  for (const a of live) lines.push(`  ${apiName(a.request)}: ${a.apiKey},`);
  lines.push("} as const;");
  lines.push("export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];");
  lines.push("export type ApiName = keyof typeof ApiKey;");
  lines.push("");
  lines.push("export interface ApiKeyInfo {");
  lines.push("  readonly apiKey: number;");
  lines.push('  /** e.g. "Metadata". */');
  lines.push("  readonly name: string;");
  lines.push("  readonly minVersion: number;");
  lines.push("  readonly maxVersion: number;");
  lines.push("  /** First flexible request version, -1 if none. */");
  lines.push("  readonly flexibleMinVersion: number;");
  lines.push("  /** First flexible response version, -1 if none. */");
  lines.push("  readonly responseFlexibleMinVersion: number;");
  lines.push("  readonly latestVersionUnstable?: boolean;");
  lines.push("  readonly listeners?: string[];");
  lines.push("}");
  lines.push("");
  lines.push("/** Every API with valid versions, by key. */");
  lines.push("export const API_KEYS: ReadonlyArray<ApiKeyInfo> = [");
  for (const a of live) {
    const r = a.request;
    if (
      r.validVersions.lo !== a.response.validVersions.lo ||
      r.validVersions.hi !== a.response.validVersions.hi
    ) {
      throw new Error(`API key ${a.apiKey}: request and response versions differ`);
    }
    const props = [
      `apiKey: ${a.apiKey}`,
      `name: ${JSON.stringify(apiName(r))}`,
      `minVersion: ${r.validVersions.lo}`,
      `maxVersion: ${r.validVersions.hi}`,
      `flexibleMinVersion: ${flexibleMin(r.flexibleVersions, r.validVersions)}`,
      `responseFlexibleMinVersion: ${flexibleMin(a.response.flexibleVersions, r.validVersions)}`,
    ];
    if (r.latestVersionUnstable) props.push("latestVersionUnstable: true");
    if (r.listeners.length > 0) props.push(`listeners: ${JSON.stringify(r.listeners)}`);
    lines.push(`  { ${props.join(", ")} },`);
  }
  lines.push("];");
  lines.push("");
  lines.push(
    "/** API keys whose definitions say they have no valid versions any more (left out of API_KEYS). */",
  );
  lines.push(
    "export const REMOVED_API_KEYS: ReadonlyArray<{ readonly apiKey: number; readonly name: string }> = [",
  );
  for (const a of removed)
    lines.push(`  { apiKey: ${a.apiKey}, name: ${JSON.stringify(apiName(a.request))} },`);
  lines.push("];");
  lines.push("");
  lines.push("const BY_KEY: (ApiKeyInfo | undefined)[] = [];");
  lines.push("for (const api of API_KEYS) BY_KEY[api.apiKey] = api;");
  lines.push("");
  lines.push("export function apiInfo(apiKey: number): ApiKeyInfo | undefined {");
  lines.push("  return BY_KEY[apiKey];");
  lines.push("}");
  lines.push("");
  lines.push("export function isApiKey(apiKey: number): apiKey is ApiKey {");
  lines.push("  return BY_KEY[apiKey] !== undefined;");
  lines.push("}");
  lines.push("");
  lines.push('/** "Metadata" for 3; undefined for keys the codec does not know. */');
  lines.push("export function apiName(apiKey: ApiKey): ApiName;");
  lines.push("export function apiName(apiKey: number): ApiName | undefined;");
  lines.push("export function apiName(apiKey: number): ApiName | undefined {");
  lines.push("  return BY_KEY[apiKey]?.name as ApiName | undefined;");
  lines.push("}");
  lines.push("");
  lines.push("function known(apiKey: number): ApiKeyInfo {");
  lines.push("  const api = BY_KEY[apiKey];");
  lines.push(
    '  if (api === undefined) throw new KafkaProtocolError("UNKNOWN_API", `unknown API key ${apiKey}`);',
  );
  lines.push("  return api;");
  lines.push("}");
  lines.push("");
  lines.push("/** Versions above the known range follow the open-ended flexible range. */");
  lines.push("export function isFlexibleRequest(apiKey: number, apiVersion: number): boolean {");
  lines.push("  const from = known(apiKey).flexibleMinVersion;");
  lines.push("  return from >= 0 && apiVersion >= from;");
  lines.push("}");
  lines.push("");
  lines.push("/** Whether the response body is flexible; the header of ApiVersions responses never is. */");
  lines.push("export function isFlexibleResponse(apiKey: number, apiVersion: number): boolean {");
  lines.push("  const from = known(apiKey).responseFlexibleMinVersion;");
  lines.push("  return from >= 0 && apiVersion >= from;");
  lines.push("}");
  lines.push("");
  lines.push("/**");
  lines.push(
    " * Request header version: 2 for flexible versions, else 1; 0 for ControlledShutdown v0 (as Kafka's",
  );
  lines.push(" * ApiMessageType). Versions above the known range follow the open-ended flexible range.");
  lines.push(" */");
  lines.push("export function requestHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 | 2 {");
  lines.push("  if (usesRequestHeaderV0(apiKey, apiVersion)) return 0;");
  lines.push("  return isFlexibleRequest(apiKey, apiVersion) ? 2 : 1;");
  lines.push("}");
  lines.push("");
  lines.push(
    "/** Whether a request has the oldest header, without a client id: ControlledShutdown v0 alone. */",
  );
  lines.push("export function usesRequestHeaderV0(apiKey: number, apiVersion: number): boolean {");
  lines.push("  return apiKey === 7 && apiVersion === 0;");
  lines.push("}");
  lines.push("");
  lines.push(
    "/** Response header version: 1 for flexible versions, else 0; always 0 for ApiVersions (KIP-511). */",
  );
  lines.push("export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {");
  lines.push("  if (apiKey === ApiKey.ApiVersions) return 0;");
  lines.push("  return isFlexibleResponse(apiKey, apiVersion) ? 1 : 0;");
  lines.push("}");
  return `${lines.join("\n")}\n`;
}

export function emitIndex(header: string, messages: readonly EmittedMessage[]): string {
  const all = apis(messages);
  const live = all.filter((a) => !isEmpty(a.request.validVersions));
  const moduleOf = new Map(messages.map((m) => [m.spec.name, m.module]));
  const lines: string[] = [header];
  lines.push('import type { MessageCodec } from "../message-codec.ts";');
  const imports: string[] = [];
  for (const a of live) {
    for (const spec of [a.request, a.response]) {
      imports.push(
        `import { decode${spec.name}, encode${spec.name} } from "./messages/${moduleOf.get(spec.name)}.ts";`,
      );
    }
  }
  lines.push(...imports.sort());
  lines.push("");
  lines.push('export * from "./api-keys.ts";');
  lines.push('export * from "./codec-modules.ts";');
  lines.push('export * from "./entity-fields.ts";');
  lines.push('export * from "./error-codes.ts";');
  lines.push('export * from "./field-versions.ts";');
  lines.push('export type * from "./message-types.ts";');
  // Re-export every name that only one module defines (nested struct names may repeat across messages;
  // import those from the message's own module).
  const owners = new Map<string, string[]>();
  for (const m of messages) {
    for (const name of m.exports) owners.set(name, [...(owners.get(name) ?? []), m.module]);
  }
  for (const m of [...messages].sort((a, b) => a.module.localeCompare(b.module))) {
    const unique = m.exports.filter((name) => owners.get(name)!.length === 1);
    const types = unique.filter((n) => !/^(decode|encode)[A-Z]/.test(n)).map((n) => `type ${n}`);
    const values = unique.filter((n) => /^(decode|encode)[A-Z]/.test(n));
    lines.push(`export { ${[...values, ...types].join(", ")} } from "./messages/${m.module}.ts";`);
  }
  lines.push("");
  const table = (kind: "request" | "response") => {
    const max = Math.max(...live.map((a) => a.apiKey));
    const entries: string[] = [];
    const byKey = new Map(live.map((a) => [a.apiKey, a]));
    for (let key = 0; key <= max; key++) {
      const a = byKey.get(key);
      if (a === undefined) {
        entries.push(`  undefined, // ${key}`);
        continue;
      }
      const spec = a[kind];
      entries.push(
        `  { label: ${JSON.stringify(apiLabel(spec))}, minVersion: ${spec.validVersions.lo}, maxVersion: ${spec.validVersions.hi}, decode: decode${spec.name}, encode: encode${spec.name} },`,
      );
    }
    return entries;
  };
  lines.push("/** Request codecs indexed by API key (undefined where the key has no valid versions). */");
  lines.push("export const REQUEST_CODECS: ReadonlyArray<MessageCodec<any> | undefined> = [");
  lines.push(...table("request"));
  lines.push("];");
  lines.push("");
  lines.push("/** Response codecs indexed by API key (undefined where the key has no valid versions). */");
  lines.push("export const RESPONSE_CODECS: ReadonlyArray<MessageCodec<any> | undefined> = [");
  lines.push(...table("response"));
  lines.push("];");
  return `${lines.join("\n")}\n`;
}

/** RequestOf<K> and ResponseOf<K>: the message interface of each API key (types only, no module loads). */
export function emitMessageTypes(header: string, messages: readonly EmittedMessage[]): string {
  const live = apis(messages);
  const moduleOf = new Map(messages.map((m) => [m.spec.name, m.module]));
  const lines: string[] = [header, 'import type { ApiKey } from "./api-keys.ts";'];
  const imports: string[] = [];
  for (const a of live) {
    for (const spec of [a.request, a.response]) {
      imports.push(`import type { ${spec.name} } from "./messages/${moduleOf.get(spec.name)}.ts";`);
    }
  }
  lines.push(...imports.sort());
  lines.push("");
  for (const kind of ["request", "response"] as const) {
    const title = kind === "request" ? "Request" : "Response";
    lines.push(`export interface ${title}ByApiKey {`);
    for (const a of live) lines.push(`  ${a.apiKey}: ${a[kind].name};`);
    lines.push("}");
    lines.push("");
  }
  lines.push("export type RequestOf<K extends ApiKey> = RequestByApiKey[K];");
  lines.push("export type ResponseOf<K extends ApiKey> = ResponseByApiKey[K];");
  return `${lines.join("\n")}\n`;
}

/** The generated tables without the message codecs: importing it loads no message module. */
export function emitTables(header: string): string {
  return `${[
    header,
    'export * from "./api-keys.ts";',
    'export * from "./entity-fields.ts";',
    'export * from "./error-codes.ts";',
    'export * from "./field-versions.ts";',
    'export type * from "./message-types.ts";',
  ].join("\n")}\n`;
}

function range(v: Versions | null): string {
  if (v === null || isEmpty(v)) return "null";
  return `[${v.lo}, ${v.hi}]`;
}

function fieldSchema(f: FieldSpec): string {
  return `{ name: ${JSON.stringify(f.name)}, type: ${JSON.stringify(formatType(f.type))}, versions: ${range(f.versions)}, nullableVersions: ${range(f.nullableVersions)}, taggedVersions: ${range(f.taggedVersions)}, tag: ${f.tag}, default: ${JSON.stringify(f.default)}, ignorable: ${f.ignorable}, flexibleVersions: ${range(f.flexibleVersions)} }`;
}

export function emitSchema(header: string, messages: readonly EmittedMessage[]): string {
  const lines: string[] = [header, 'import type { MessageSchema } from "../schema-types.ts";', ""];
  lines.push("export const MESSAGE_SCHEMAS: ReadonlyArray<MessageSchema> = [");
  for (const { spec } of messages) {
    lines.push("  {");
    lines.push(`    name: ${JSON.stringify(spec.name)},`);
    lines.push(`    kind: ${JSON.stringify(spec.kind)},`);
    lines.push(`    apiKey: ${spec.apiKey},`);
    lines.push(
      `    validVersions: ${range(spec.validVersions) === "null" ? "[0, -1]" : range(spec.validVersions)},`,
    );
    lines.push(`    flexibleVersions: ${range(spec.flexibleVersions)},`);
    lines.push("    fields: [");
    for (const f of spec.top.fields) lines.push(`      ${fieldSchema(f)},`);
    lines.push("    ],");
    lines.push("    structs: {");
    for (const s of spec.structs.values()) {
      lines.push(`      ${s.name}: {`);
      lines.push(`        name: ${JSON.stringify(s.name)},`);
      lines.push(`        versions: ${range(s.versions) === "null" ? "[0, -1]" : range(s.versions)},`);
      lines.push("        fields: [");
      for (const f of s.fields) lines.push(`          ${fieldSchema(f)},`);
      lines.push("        ],");
      lines.push("      },");
    }
    lines.push("    },");
    lines.push("  },");
  }
  lines.push("];");
  return `${lines.join("\n")}\n`;
}

/**
 * Where each API's codecs live, so callers can load only the modules they use (frame.ts does):
 * importing index.ts loads every message module.
 */
export function emitCodecModules(header: string, messages: readonly EmittedMessage[]): string {
  const live = apis(messages);
  const moduleOf = new Map(messages.map((m) => [m.spec.name, m.module]));
  const lines: string[] = [header, ""];
  lines.push("export interface CodecModule {");
  lines.push('  /** e.g. "Metadata request". */');
  lines.push("  readonly label: string;");
  lines.push('  /** Module under ./messages/, without extension, e.g. "metadata-request". */');
  lines.push("  readonly module: string;");
  lines.push("  /** Message name: the module exports decode<name> and encode<name>. */");
  lines.push("  readonly name: string;");
  lines.push("}");
  lines.push("");
  lines.push("export interface ApiCodecModules {");
  lines.push("  readonly minVersion: number;");
  lines.push("  readonly maxVersion: number;");
  lines.push("  readonly request: CodecModule;");
  lines.push("  readonly response: CodecModule;");
  lines.push("}");
  lines.push("");
  lines.push("/** Indexed by API key; undefined where the key has no valid versions. */");
  lines.push("export const CODEC_MODULES: ReadonlyArray<ApiCodecModules | undefined> = [");
  const byKey = new Map(live.map((a) => [a.apiKey, a]));
  const max = Math.max(...live.map((a) => a.apiKey));
  const entry = (spec: MessageSpec) =>
    `{ label: ${JSON.stringify(apiLabel(spec))}, module: ${JSON.stringify(moduleOf.get(spec.name))}, name: ${JSON.stringify(spec.name)} }`;
  for (let key = 0; key <= max; key++) {
    const a = byKey.get(key);
    if (a === undefined) {
      lines.push(`  undefined, // ${key}`);
      continue;
    }
    const v = a.request.validVersions;
    lines.push(
      `  { minVersion: ${v.lo}, maxVersion: ${v.hi}, request: ${entry(a.request)}, response: ${entry(a.response)} },`,
    );
  }
  lines.push("];");
  return `${lines.join("\n")}\n`;
}
