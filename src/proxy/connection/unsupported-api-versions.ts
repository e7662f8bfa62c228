import { API_KEYS, ApiKey, ErrorCode } from "../../protocol/api.ts";
import { encodeResponse } from "../../protocol/frame.ts";

const apiVersions = API_KEYS.find((api) => api.apiKey === ApiKey.ApiVersions)!;

/**
 * An ApiVersions request newer than the proxy's codec is answered as a broker answers it: UNSUPPORTED_VERSION
 * with the versions the proxy does speak, encoded as the oldest version so any client can read it. Returns the
 * response frame, or undefined for every other request.
 */
export function answerUnsupportedApiVersions(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
): Buffer | undefined {
  if (apiKey !== ApiKey.ApiVersions || apiVersion <= apiVersions.maxVersion) return undefined;
  return encodeResponse(ApiKey.ApiVersions, apiVersions.minVersion, correlationId, {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apiKeys: [
      { apiKey: ApiKey.ApiVersions, minVersion: apiVersions.minVersion, maxVersion: apiVersions.maxVersion },
    ],
    throttleTimeMs: 0,
  });
}
