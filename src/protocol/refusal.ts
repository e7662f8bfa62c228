/**
 * Answers a request the proxy refuses without asking a broker: a well-formed response of the request's API and
 * version in which everything the client asked about carries the same error code.
 *
 * The response starts from the defaults of the message definitions (`generated/schema.ts`), then:
 * - the top-level `errorCode` (and `errorMessage`) get the error wherever the version has them;
 * - each entry the request asked about is mirrored into the response's list of results (groups of
 *   DescribeGroups, keys of FindCoordinator v4+, partitions of OffsetCommit, ...), keeping the fields that
 *   identify it (group id, topic name or id, partition index, member id, ...) and carrying the error in its
 *   own `errorCode` / `errorMessage`. A response list mirrors the request list of the same name when its
 *   entries can carry an error; MIRRORS names the others (another name, or a list of plain values);
 * - fields that say "no value" by a sentinel other than their default get it (NO_VALUE).
 */
import { createRequire } from "node:module";
import { apiName } from "./generated/api-keys.ts";
import type { ApiKey, FieldPath, MessageName, RequestOf, ResponseOf } from "./generated/tables.ts";
import { defaultStruct } from "./schema-defaults.ts";
import type { FieldSchema, MessageSchema, VersionRange } from "./schema-types.ts";

/** Where a response list takes its entries from, when not from the request list of the same name. */
interface Mirror {
  /** The request field, in the request struct that corresponds to the response list's parent. */
  readonly from: string;
  /** For a request list of plain values (group ids, partition indexes): the response field that gets each value. */
  readonly key?: string;
}

/** Response lists (by response path) whose entries come from a request field of another name or kind. */
const MIRRORS = {
  FindCoordinatorResponse: { coordinators: { from: "coordinatorKeys", key: "key" } },
  DescribeGroupsResponse: { groups: { from: "groups", key: "groupId" } },
  DeleteGroupsResponse: { results: { from: "groupsNames", key: "groupId" } },
  ConsumerGroupDescribeResponse: { groups: { from: "groupIds", key: "groupId" } },
  ShareGroupDescribeResponse: { groups: { from: "groupIds", key: "groupId" } },
  StreamsGroupDescribeResponse: { groups: { from: "groupIds", key: "groupId" } },
  OffsetFetchResponse: {
    "topics.partitions": { from: "partitionIndexes", key: "partitionIndex" },
    "groups.topics.partitions": { from: "partitionIndexes", key: "partitionIndex" },
  },
  DescribeShareGroupOffsetsResponse: {
    "groups.topics.partitions": { from: "partitions", key: "partitionIndex" },
  },
  AlterShareGroupOffsetsResponse: { responses: { from: "topics" } },
  DeleteShareGroupOffsetsResponse: { responses: { from: "topics" } },
} as const satisfies { readonly [M in MessageName]?: { readonly [P in FieldPath<M>]?: Mirror } };

/** Fields whose "no value" is not their default: no coordinator, no committed offset. */
const NO_VALUE = {
  FindCoordinatorResponse: { nodeId: -1, port: -1, "coordinators.nodeId": -1, "coordinators.port": -1 },
  OffsetFetchResponse: {
    "topics.partitions.committedOffset": -1n,
    "groups.topics.partitions.committedOffset": -1n,
  },
  DescribeShareGroupOffsetsResponse: {
    "groups.topics.partitions.startOffset": -1n,
    "groups.topics.partitions.leaderEpoch": -1,
  },
} as const satisfies { readonly [M in MessageName]?: { readonly [P in FieldPath<M>]?: unknown } };

const requireModule = createRequire(import.meta.url);
const MODULE_EXTENSION = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
let schemasByName: Map<string, MessageSchema> | undefined;

/** The message definitions, loaded on the first refusal (the schema module is large and rarely needed). */
function schemaNamed(name: string): MessageSchema {
  if (schemasByName === undefined) {
    const { MESSAGE_SCHEMAS } = requireModule(`./generated/schema${MODULE_EXTENSION}`) as {
      MESSAGE_SCHEMAS: readonly MessageSchema[];
    };
    schemasByName = new Map(MESSAGE_SCHEMAS.map((schema) => [schema.name, schema]));
  }
  const schema = schemasByName.get(name);
  if (schema === undefined) throw new Error(`no message definition named ${name}`);
  return schema;
}

function within(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

function elementType(f: FieldSchema): string | undefined {
  return f.type.startsWith("[]") ? f.type.slice(2) : undefined;
}

type Fields = readonly FieldSchema[];
type Struct = Record<string, unknown>;

class RefusalBuilder {
  private readonly request: MessageSchema;
  private readonly response: MessageSchema;
  private readonly version: number;
  private readonly errorCode: number;
  private readonly errorMessage: string | null;
  private readonly mirrors: Readonly<Record<string, Mirror>>;
  private readonly noValue: Readonly<Record<string, unknown>>;

  constructor(
    request: MessageSchema,
    response: MessageSchema,
    version: number,
    errorCode: number,
    errorMessage: string | null,
  ) {
    this.request = request;
    this.response = response;
    this.version = version;
    this.errorCode = errorCode;
    this.errorMessage = errorMessage;
    this.mirrors =
      (MIRRORS as Readonly<Record<string, Readonly<Record<string, Mirror>>>>)[response.name] ?? {};
    this.noValue =
      (NO_VALUE as Readonly<Record<string, Readonly<Record<string, unknown>>>>)[response.name] ?? {};
  }

  build(request: unknown): Struct {
    return this.struct(this.response.fields, this.request.fields, request as Struct, "", true);
  }

  /**
   * One response struct: defaults, the error, the lists mirrored from the request struct that corresponds to it
   * and, inside entries (not at the top), the request's fields of the same name and type that identify the entry.
   */
  private struct(
    fields: Fields,
    requestFields: Fields | undefined,
    request: Struct | undefined,
    prefix: string,
    top: boolean,
  ): Struct {
    const out = defaultStruct(this.response, fields);
    for (const f of fields) {
      if (!this.present(f)) continue;
      const path = prefix + f.name;
      if (f.name === "errorCode" && f.type === "int16") {
        out[f.name] = this.errorCode;
      } else if (f.name === "errorMessage" && f.type === "string") {
        out[f.name] = this.errorMessage ?? (within(f.nullableVersions, this.version) ? null : "");
      } else if (path in this.noValue) {
        out[f.name] = this.noValue[path];
      } else if (elementType(f) !== undefined && this.response.structs[elementType(f)!] !== undefined) {
        const entries = this.mirror(f, path, requestFields, request);
        if (entries !== undefined) out[f.name] = entries;
      } else if (!top && request !== undefined && requestFields !== undefined && this.isPlain(f)) {
        const same = requestFields.find((r) => r.name === f.name && r.type === f.type);
        const value = same !== undefined && this.present(same) ? request[f.name] : undefined;
        if (value !== undefined && (value !== null || within(f.nullableVersions, this.version))) {
          out[f.name] = value;
        }
      }
    }
    return out;
  }

  /** The entries of a response list, one per entry of the request field it mirrors; undefined: not mirrored. */
  private mirror(
    f: FieldSchema,
    path: string,
    requestFields: Fields | undefined,
    request: Struct | undefined,
  ): Struct[] | undefined {
    const mirror: Mirror | undefined = this.mirrors[path];
    const struct = this.response.structs[elementType(f)!]!;
    if (mirror === undefined && !this.carriesError(struct.fields, new Set())) return undefined;
    const source = requestFields?.find((r) => r.name === (mirror?.from ?? f.name));
    if (source === undefined || request === undefined || !this.present(source)) return undefined;
    const values = (request[source.name] ?? []) as unknown[];
    const sourceType = elementType(source);
    if (sourceType === undefined) return undefined;
    const sourceStruct = this.request.structs[sourceType];
    const prefix = `${path}.`;
    if (sourceStruct !== undefined) {
      return values.map((value) =>
        this.struct(struct.fields, sourceStruct.fields, value as Struct, prefix, false),
      );
    }
    const key = mirror?.key;
    if (key === undefined) return undefined;
    return values.map((value) => {
      const entry = this.struct(struct.fields, undefined, undefined, prefix, false);
      entry[key] = value;
      return entry;
    });
  }

  /** Whether entries of this struct can carry an error: an errorCode in it or in a struct list below it. */
  private carriesError(fields: Fields, seen: Set<string>): boolean {
    for (const f of fields) {
      if (f.name === "errorCode") return true;
      const type = elementType(f) ?? f.type;
      const struct = this.response.structs[type];
      if (struct !== undefined && !seen.has(type)) {
        seen.add(type);
        if (this.carriesError(struct.fields, seen)) return true;
      }
    }
    return false;
  }

  /** A field of a primitive type, or a list of them (not a struct). */
  private isPlain(f: FieldSchema): boolean {
    return this.response.structs[elementType(f) ?? f.type] === undefined;
  }

  private present(f: FieldSchema): boolean {
    return within(f.versions, this.version);
  }
}

/**
 * The response refusing `request` (of API `apiKey` at `version`) with `errorCode`: the top-level error where the
 * response has one, and the same error on every entry the request asked about (see the module comment).
 * `errorMessage` goes wherever the response has an error message; without it those hold null (or "" where the
 * version cannot carry null).
 */
export function refusalResponse<K extends ApiKey>(
  apiKey: K,
  version: number,
  request: RequestOf<K>,
  errorCode: number,
  errorMessage: string | null = null,
): ResponseOf<K> {
  const name = apiName(apiKey);
  const requestSchema = schemaNamed(`${name}Request`);
  const responseSchema = schemaNamed(`${name}Response`);
  if (!within(responseSchema.validVersions, version)) {
    throw new Error(`${name} has no version ${version}`);
  }
  const builder = new RefusalBuilder(requestSchema, responseSchema, version, errorCode, errorMessage);
  return builder.build(request) as unknown as ResponseOf<K>;
}
