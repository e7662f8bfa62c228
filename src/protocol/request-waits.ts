import { API_KEYS, ApiKey, FIELD_VERSIONS } from "./api.ts";
import { decodeClientRequest } from "./frame.ts";
import { fetchMaxWaitMs, produceTimeoutMs } from "./request-peek.ts";

interface WaitFields {
  maxWaitMs?: unknown;
  rebalanceTimeoutMs?: unknown;
  sessionTimeoutMs?: unknown;
  timeoutMs?: unknown;
}

/**
 * How long the broker may hold a decoded request before it answers, from the request's own fields: maxWaitMs
 * (Fetch, ShareFetch), JoinGroup's rebalance timeout (its session timeout before rebalance timeouts existed),
 * and timeoutMs (Produce, ListOffsets, the admin APIs). 0 for requests the broker answers at once.
 */
export function requestWaitMs(apiKey: ApiKey, request: unknown): number {
  const fields = request as WaitFields;
  if (apiKey === ApiKey.JoinGroup)
    return positive(fields.rebalanceTimeoutMs) || positive(fields.sessionTimeoutMs);
  return positive(fields.maxWaitMs) || positive(fields.timeoutMs);
}

function positive(value: unknown): number {
  return typeof value === "number" && value > 0 ? value : 0;
}

const WAIT_FIELDS = ["maxWaitMs", "timeoutMs"] as const;

/** The api keys whose requests carry a wait field (see `requestWaitMs`), from the generated field tables. */
const WAITING_APIS = new Set<number>(
  API_KEYS.filter(({ apiKey, name }) => {
    if (apiKey === ApiKey.JoinGroup) return true;
    const fields = (FIELD_VERSIONS as Record<string, Record<string, unknown>>)[`${name}Request`];
    return fields !== undefined && WAIT_FIELDS.some((field) => field in fields);
  }).map(({ apiKey }) => apiKey),
);

/**
 * `requestWaitMs` of a request frame (length prefix included) that is passed on undecoded: Produce and Fetch
 * are peeked at, the few others that wait are decoded (they are rare); 0 for the rest and for malformed frames.
 */
export function frameWaitMs(frame: Buffer, apiKey: ApiKey, apiVersion: number): number {
  let wait: number | undefined;
  if (apiKey === ApiKey.Produce) wait = produceTimeoutMs(frame, apiVersion);
  else if (apiKey === ApiKey.Fetch) wait = fetchMaxWaitMs(frame, apiVersion);
  else if (WAITING_APIS.has(apiKey)) {
    try {
      wait = requestWaitMs(apiKey, decodeClientRequest(frame.subarray(4)).body);
    } catch {
      wait = 0;
    }
  }
  return wait !== undefined && wait > 0 ? wait : 0;
}
