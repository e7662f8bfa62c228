import { API_KEYS } from "../../protocol/generated/api-keys.ts";
import type { ExchangeContext, RequestFeature, ResponseFeature } from "../../proxy/feature.ts";

const API_VERSIONS = 18;
const UNSUPPORTED_VERSION = 35;

interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

/**
 * Advertises only what both the broker and the proxy's codec support, so clients never pick a version the
 * proxy cannot decode. An ApiVersions request newer than the codec knows is answered like a broker does:
 * UNSUPPORTED_VERSION with the supported range, encoded as v0.
 */
export class ApiVersionsClamp implements ResponseFeature, RequestFeature {
  readonly name = "api-versions";
  readonly responseApiKeys = [API_VERSIONS];
  readonly requestApiKeys = [API_VERSIONS];
  private readonly supported: (VersionRange | undefined)[] = [];
  private readonly ownRange: VersionRange;

  /** `maxVersions`: per api key, the highest version to offer clients even when broker and codec know newer. */
  constructor(maxVersions: ReadonlyMap<number, number> = new Map()) {
    for (const api of API_KEYS) {
      const limit = maxVersions.get(api.apiKey);
      this.supported[api.apiKey] = {
        minVersion: api.minVersion,
        maxVersion: limit === undefined ? api.maxVersion : Math.min(limit, api.maxVersion),
      };
    }
    this.ownRange = this.supported[API_VERSIONS]!;
  }

  answerLocally(context: ExchangeContext): { version: number; body: unknown } | undefined {
    if (context.apiVersion <= this.ownRange.maxVersion) return undefined;
    return {
      version: 0,
      body: {
        errorCode: UNSUPPORTED_VERSION,
        apiKeys: [
          {
            apiKey: API_VERSIONS,
            minVersion: this.ownRange.minVersion,
            maxVersion: this.ownRange.maxVersion,
          },
        ],
        throttleTimeMs: 0,
      },
    };
  }

  wantsResponse(_context: ExchangeContext, frame?: Buffer): boolean {
    if (!frame) return true;
    const errorCode = frame.length >= 10 ? frame.readInt16BE(8) : -1;
    return errorCode === 0;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated ApiVersions response body
  onResponse(_context: ExchangeContext, body: any): boolean {
    const kept = [];
    for (const entry of body.apiKeys as ({ apiKey: number } & VersionRange)[]) {
      const own = this.supported[entry.apiKey];
      if (!own) continue;
      const minVersion = Math.max(entry.minVersion, own.minVersion);
      const maxVersion = Math.min(entry.maxVersion, own.maxVersion);
      if (minVersion > maxVersion) continue;
      entry.minVersion = minVersion;
      entry.maxVersion = maxVersion;
      kept.push(entry);
    }
    body.apiKeys = kept;
    return true;
  }
}
