import { API_KEYS, ApiKey, ErrorCode } from "../../protocol/api.ts";
import { encodeResponse } from "../../protocol/frame.ts";

const apiVersions = API_KEYS.find((api) => api.apiKey === ApiKey.ApiVersions)!;

/**
 * An ApiVersions request newer than the proxy's codec, or than the broker it would go to (`brokerLimit`: the
 * newest ApiVersions version that broker speaks, when known), is answered as a broker answers it:
 * UNSUPPORTED_VERSION with the versions both do speak, encoded as the oldest version so any client can read it
 * and ask again. Returns the response frame, or undefined for every other request.
 */
export function answerUnsupportedApiVersions(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  brokerLimit?: number,
): Buffer | undefined {
  if (apiKey !== ApiKey.ApiVersions) return undefined;
  const limit = Math.min(apiVersions.maxVersion, brokerLimit ?? apiVersions.maxVersion);
  if (apiVersion <= limit) return undefined;
  return encodeResponse(ApiKey.ApiVersions, apiVersions.minVersion, correlationId, {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: apiVersions.minVersion, maxVersion: limit }],
    throttleTimeMs: 0,
  });
}
