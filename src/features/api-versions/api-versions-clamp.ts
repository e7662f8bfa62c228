import type { ApiHandlers, Feature } from "../../feature-api/feature.ts";
import { API_KEYS, ApiKey, ErrorCode, type ResponseOf } from "../../protocol/api.ts";
import { narrowApiVersions } from "../../topology/api-versions.ts";

interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

/** Where the error code sits in an ApiVersions response frame: after the length and the correlation id. */
const ERROR_CODE_OFFSET = 8;

/**
 * Advertises only what both the broker and the proxy's codec support, so clients never pick a version the
 * proxy cannot decode, and at most the versions the config allows.
 */
export class ApiVersionsClamp implements Feature {
  readonly name = "api-versions";
  readonly handlers: ApiHandlers;
  private readonly supported: (VersionRange | undefined)[] = [];

  /** `maxVersions`: per api key, the highest version to offer clients even when broker and codec know newer. */
  constructor(maxVersions: ReadonlyMap<number, number> = new Map()) {
    for (const api of API_KEYS) {
      const limit = maxVersions.get(api.apiKey);
      this.supported[api.apiKey] = {
        minVersion: api.minVersion,
        maxVersion: limit === undefined ? api.maxVersion : Math.min(limit, api.maxVersion),
      };
    }
    this.handlers = {
      [ApiKey.ApiVersions]: {
        wantsResponse: (_exchange, frame) =>
          !frame ||
          (frame.length >= ERROR_CODE_OFFSET + 2 && frame.readInt16BE(ERROR_CODE_OFFSET) === ErrorCode.NONE),
        onResponse: (response) => this.clamp(response),
      },
    };
  }

  private clamp(response: ResponseOf<typeof ApiKey.ApiVersions>): boolean {
    narrowApiVersions(response, (apiKey) => {
      const own = this.supported[apiKey];
      return own ? { min: own.minVersion, max: own.maxVersion } : null;
    });
    return true;
  }
}
