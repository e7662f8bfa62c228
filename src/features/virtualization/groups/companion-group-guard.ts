import type { ApiHandler, ApiHandlers, ExchangeInfo, RequestContext } from "../../../feature-api/feature.ts";
import type { Logger } from "../../../log/logger.ts";
import {
  ApiKey,
  apiKeysNaming,
  apiName,
  ErrorCode,
  hasField,
  isApiKey,
  type RequestOf,
  type ResponseOf,
  requestEntities,
} from "../../../protocol/api.ts";
import { CoordinatorType } from "../../../protocol/coordinator-type.ts";
import { decodeClientRequest } from "../../../protocol/frame.ts";
import { refusalResponse } from "../../../protocol/refusal.ts";
import { COMPANION_SEPARATOR, isCompanionGroup } from "./companion-groups.ts";

/**
 * The error a client gets for naming a companion group: GROUP_AUTHORIZATION_FAILED, as if an ACL denied it.
 * - It says what happened: the group exists, or may, and the request is well-formed, but the name is reserved
 *   to the proxy, which is what an authorization failure means. INVALID_GROUP_ID says the id itself is malformed;
 *   Kafka sends it for empty ids, and several APIs (FindCoordinator, DescribeGroups, DeleteGroups, OffsetFetch)
 *   do not list it among their errors, so clients and admin tools meet it as an unexpected error.
 * - Every client already has a path for it on every group API, because brokers send it whenever group ACLs
 *   deny a principal: Java raises GroupAuthorizationException, librdkafka and KafkaJS report "Group
 *   authorization failed". It is not retriable, so clients stop instead of retrying forever.
 * - It is the error the proxy's own authorization will give for groups a principal may not use.
 */
export const COMPANION_GROUP_REFUSAL = ErrorCode.GROUP_AUTHORIZATION_FAILED;

/** The error message of the refusal, where the response has one. */
export const COMPANION_REFUSAL_MESSAGE = `group ids containing "${COMPANION_SEPARATOR}" are reserved for the proxy's companion groups`;
const SEPARATOR_BYTES = Buffer.from(COMPANION_SEPARATOR, "utf8");
/** At most this many refusal lines per window (across connections); the next line counts those left out. */
const LOG_LINES_PER_WINDOW = 10;
const LOG_WINDOW_MS = 10_000;

/** Every API whose request names a group: a groupId-entity field, or FindCoordinator's key. */
export const GUARDED_API_KEYS: readonly ApiKey[] = [
  ...new Set([...apiKeysNaming("groupId").filter(isApiKey), ApiKey.FindCoordinator]),
].sort((a, b) => a - b);

/** The companion groups a decoded request names (empty when it names none). */
export function companionGroupsNamed(apiKey: ApiKey, version: number, request: unknown): string[] {
  if (apiKey === ApiKey.FindCoordinator) {
    const lookup = request as RequestOf<typeof ApiKey.FindCoordinator>;
    if (hasField("FindCoordinatorRequest", "keyType", version) && lookup.keyType !== CoordinatorType.group)
      return [];
    const keys = hasField("FindCoordinatorRequest", "coordinatorKeys", version)
      ? lookup.coordinatorKeys
      : [lookup.key];
    return keys.filter(isCompanionGroup);
  }
  const named: string[] = [];
  for (const group of requestEntities(apiKey, version, request, "groupId")) {
    if (typeof group === "string" && isCompanionGroup(group)) named.push(group);
  }
  return named;
}

/** Whether a request frame (length prefix included) may name a companion group: a cheap look at its bytes. */
export function mayNameCompanionGroup(frame: Buffer): boolean {
  return frame.indexOf(SEPARATOR_BYTES) >= 0;
}

/** Logs refusals, at most LOG_LINES_PER_WINDOW lines per LOG_WINDOW_MS; the next line counts those left out. */
export class RefusalLog {
  private readonly now: () => number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private lines = 0;
  private suppressed = 0;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  refused(log: Logger, exchange: ExchangeInfo, groups: readonly string[]): void {
    const now = this.now();
    if (now - this.windowStart >= LOG_WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= LOG_LINES_PER_WINDOW) {
      this.suppressed++;
      return;
    }
    this.lines++;
    const fields: Record<string, unknown> = {
      api: apiName(exchange.apiKey),
      version: exchange.apiVersion,
      groups,
      client: exchange.connection.remote,
      clientId: exchange.connection.clientId,
    };
    if (this.suppressed > 0) fields.unloggedRefusals = this.suppressed;
    this.suppressed = 0;
    log.warn(fields, "request naming a companion group refused: companion groups are the proxy's own");
  }
}

/**
 * Wraps the feature's handler of one group API (or none) so that a client request naming a companion group is
 * answered by the proxy with COMPANION_GROUP_REFUSAL and never reaches a broker. Anything else goes to the inner
 * handler as before (or on down the chain). The proxy's own requests to companion groups are sent below this
 * feature (`context.send`) or by the admin client, so they never meet the guard.
 *
 * `wantsRequest` decodes a request only when its bytes hold the separator; otherwise it leaves the decision
 * to the inner handler, and with no inner handler the request passes as bytes. A frame that holds the
 * separator but cannot be decoded is taken too, so the runtime refuses it as malformed instead of passing it
 * on unread. An inner handler without `onRequest` (ConsumerGroupDescribe's only rewrites responses) now has
 * its requests decoded.
 */
function guard<K extends ApiKey>(
  apiKey: K,
  inner: ApiHandler<K> | undefined,
  log: RefusalLog,
): ApiHandler<K> {
  /** Whether to take the request: it names a companion group, or holds the separator and cannot be read. */
  const refuses = (frame: Buffer, version: number): boolean => {
    if (!mayNameCompanionGroup(frame)) return false;
    try {
      const request = decodeClientRequest(frame.subarray(4)).body;
      return companionGroupsNamed(apiKey, version, request).length > 0;
    } catch {
      return true; // never passed on unread: the runtime's own decoding refuses it as malformed
    }
  };
  const handler: ApiHandler<K> = {
    wantsRequest(frame: Buffer, exchange: ExchangeInfo<K>): boolean {
      if (inner === undefined) return refuses(frame, exchange.apiVersion);
      if (!inner.wantsRequest) return true;
      return refuses(frame, exchange.apiVersion) || inner.wantsRequest(frame, exchange);
    },
    onRequest(request: RequestOf<K>, context: RequestContext<K>): Promise<ResponseOf<K> | undefined> {
      const frame = context.requestFrame;
      if (frame === undefined || mayNameCompanionGroup(frame)) {
        const named = companionGroupsNamed(apiKey, context.apiVersion, request);
        if (named.length > 0) {
          log.refused(context.log, context, named);
          return Promise.resolve(
            refusalResponse(
              apiKey,
              context.apiVersion,
              request,
              COMPANION_GROUP_REFUSAL,
              COMPANION_REFUSAL_MESSAGE,
            ),
          );
        }
      }
      return inner?.onRequest ? inner.onRequest(request, context) : context.next(request);
    },
  };
  if (inner?.wantsResponse) handler.wantsResponse = inner.wantsResponse.bind(inner);
  if (inner?.onResponse) handler.onResponse = inner.onResponse.bind(inner);
  if (inner?.changesOnlyTaggedFields) {
    return { ...handler, changesOnlyTaggedFields: inner.changesOnlyTaggedFields };
  }
  return handler;
}

/**
 * The feature's handlers with every group API guarded (see `guard`): companion groups are the proxy's
 * bookkeeping, and a client that commits to one bypasses the proxy's commit fencing, one that joins one breaks
 * every commit of the real group.
 */
export function guardCompanionGroups(handlers: ApiHandlers, log: RefusalLog = new RefusalLog()): ApiHandlers {
  const guarded: Record<number, unknown> = { ...handlers };
  for (const apiKey of GUARDED_API_KEYS) {
    guarded[apiKey] = guard(apiKey, handlers[apiKey] as ApiHandler<typeof apiKey> | undefined, log);
  }
  return guarded as ApiHandlers;
}
