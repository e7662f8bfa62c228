import type { UpstreamConnection } from "../net/upstream.ts";
import { API_KEYS, ApiKey, type RequestOf, type ResponseOf } from "../protocol/api.ts";

/** The versions a caller can work with, when it needs fields only some versions have. */
export interface VersionBounds {
  readonly min?: number;
  readonly max?: number;
}

/** What a broker said it speaks: api key -> version range. */
export type BrokerVersions = ReadonlyMap<number, { min: number; max: number }>;

const codecRanges = new Map(API_KEYS.map((api) => [api.apiKey, api]));
/** Asked at the oldest version, which every broker answers (and which carries all the ranges). */
export const PROBE_VERSION = codecRanges.get(ApiKey.ApiVersions)!.minVersion;
/** The ApiVersions request the proxy asks brokers with. */
export const API_VERSIONS_PROBE: RequestOf<typeof ApiKey.ApiVersions> = {
  clientSoftwareName: "",
  clientSoftwareVersion: "",
  clusterId: null,
  nodeId: -1,
};

/** Raised when a broker and the proxy share no version of an API that a request needs. */
export class NoCommonVersionError extends Error {
  constructor(apiName: string, broker: string, detail: string) {
    super(`${broker} and the proxy speak no common version of ${apiName} (${detail})`);
    this.name = "NoCommonVersionError";
  }
}

/** What a broker's ApiVersions answer says it speaks. */
export function brokerVersionsOf(answer: ResponseOf<typeof ApiKey.ApiVersions>): BrokerVersions {
  const table = new Map<number, { min: number; max: number }>();
  for (const api of answer.apiKeys) table.set(api.apiKey, { min: api.minVersion, max: api.maxVersion });
  return table;
}

/** Asks the broker at the other end of `connection` which versions it speaks. */
export async function probeVersions(
  connection: UpstreamConnection,
  clientId: string,
): Promise<BrokerVersions> {
  const answer = await connection.request(ApiKey.ApiVersions, PROBE_VERSION, API_VERSIONS_PROBE, { clientId })
    .response;
  return brokerVersionsOf(answer);
}

/** The newest version of `apiKey` that the broker and the proxy's codec both speak, within `bounds`. */
export function pickVersion(
  apiKey: ApiKey,
  broker: string,
  versions: BrokerVersions,
  bounds?: VersionBounds,
): number {
  const codec = codecRanges.get(apiKey)!;
  const theirs = versions.get(apiKey);
  if (!theirs) throw new NoCommonVersionError(codec.name, broker, "the broker does not offer it");
  const max = Math.min(codec.maxVersion, theirs.max, bounds?.max ?? Number.POSITIVE_INFINITY);
  const min = Math.max(codec.minVersion, theirs.min, bounds?.min ?? 0);
  if (max < min) {
    throw new NoCommonVersionError(
      codec.name,
      broker,
      `broker ${theirs.min}-${theirs.max}, proxy ${codec.minVersion}-${codec.maxVersion}, needed ${bounds?.min ?? "any"}-${bounds?.max ?? "any"}`,
    );
  }
  return max;
}

/**
 * Narrows an ApiVersions answer in place: `limit` gives, per api key, the range to keep it within (an api key
 * whose range ends up empty is dropped), null to drop it, or undefined to keep it as it is.
 */
export function narrowApiVersions(
  response: ResponseOf<typeof ApiKey.ApiVersions>,
  limit: (apiKey: number) => { min: number; max: number } | null | undefined,
): void {
  const kept = [];
  for (const entry of response.apiKeys) {
    const range = limit(entry.apiKey);
    if (range === undefined) {
      kept.push(entry);
      continue;
    }
    if (range === null) continue;
    const minVersion = Math.max(entry.minVersion, range.min);
    const maxVersion = Math.min(entry.maxVersion, range.max);
    if (minVersion > maxVersion) continue;
    entry.minVersion = minVersion;
    entry.maxVersion = maxVersion;
    kept.push(entry);
  }
  response.apiKeys = kept;
}
