/**
 * Authorization: what each authenticated principal may do, in the spirit of Kafka's ACLs, checked by the proxy
 * before a request reaches a broker (which sees only the proxy's own credentials). It goes first in the chain,
 * nearest the client, so that it judges what the client asked for.
 */
import type { ApiHandler, ApiHandlers, Feature, RequestContext } from "../../feature-api/feature.ts";
import type { Logger } from "../../log/logger.ts";
import { API_KEYS, type ApiKey, type RequestOf } from "../../protocol/api.ts";
import { Access } from "./access.ts";
import { ADMIN_AUTHORIZERS } from "./admin-apis.ts";
import type { Authorize, Authorizers } from "./answers.ts";
import { Authorizer } from "./authorizer.ts";
import type { AuthorizationSettings } from "./config.ts";
import { DATA_AUTHORIZERS } from "./data-apis.ts";
import { DenialLog } from "./denial-log.ts";
import { GROUP_AUTHORIZERS } from "./group-apis.ts";
import { METADATA_AUTHORIZERS } from "./metadata-apis.ts";
import { everyNamedEntity, refuseUnmapped } from "./named-entities.ts";
import { ALWAYS_ALLOWED_APIS, requiredOperations } from "./required-operations.ts";
import { NO_TOPIC_IDS, type TopicIdLookup, TopicNames } from "./topic-ids.ts";
import { TRANSACTION_AUTHORIZERS } from "./transaction-apis.ts";

export { Authorizer } from "./authorizer.ts";
export type { AuthorizationConfig, AuthorizationSettings } from "./config.ts";
export {
  AuthorizationConfigError,
  authorizationConfigSchema,
  DISABLED_AUTHORIZATION,
  normalizeAuthorization,
  parseAuthorization,
} from "./config.ts";
export type { TopicIdLookup } from "./topic-ids.ts";

export const AUTHORIZATION_FEATURE = "authorization";

/** The APIs whose authorization is more than "every resource named must allow the operation". */
const AUTHORIZERS: Authorizers = {
  ...DATA_AUTHORIZERS,
  ...METADATA_AUTHORIZERS,
  ...GROUP_AUTHORIZERS,
  ...TRANSACTION_AUTHORIZERS,
  ...ADMIN_AUTHORIZERS,
};

const UNMAPPED = "the proxy has no authorization rule for this API: only super users may use it";

/** How an API is authorized: its own authorizer, the table's checks, or refused when the table has none. */
export function authorizerOf<K extends ApiKey>(apiKey: K): Authorize<K> {
  const own = (AUTHORIZERS as { readonly [A in ApiKey]?: Authorize<A> })[apiKey] as Authorize<K> | undefined;
  if (own) return own;
  const required = requiredOperations(apiKey);
  return required ? everyNamedEntity(apiKey, required) : refuseUnmapped();
}

export interface AuthorizationOptions {
  /** Topic names for requests naming topics by id (the topology's topic directory). */
  readonly topics?: TopicIdLookup;
  readonly now?: () => number;
}

/**
 * The authorization feature. Disabled, it has no handlers. Otherwise every API but ApiVersions and SASL's is
 * handled: requests of super users pass as bytes (undecoded), those of other principals are decoded and checked
 * (see REQUIRED_OPERATIONS), and each refusal is logged in one rate-limited line.
 */
export function createAuthorization(
  settings: AuthorizationSettings,
  log: Logger,
  options: AuthorizationOptions = {},
): AuthorizationFeature {
  if (!settings.enabled) {
    return {
      name: AUTHORIZATION_FEATURE,
      handlers: {},
      update: () => log.warn("authorization was disabled at start: enabling it needs a restart"),
    };
  }
  let authorizer = new Authorizer(settings);
  const topics = new TopicNames(options.topics ?? NO_TOPIC_IDS, options.now);
  const denials = new DenialLog(options.now);
  const handlers: Record<number, ApiHandler<ApiKey>> = {};
  for (const { apiKey: key } of API_KEYS) {
    const apiKey = key as ApiKey;
    if (ALWAYS_ALLOWED_APIS.includes(apiKey)) continue;
    const authorize = authorizerOf(apiKey);
    const reason = requiredOperations(apiKey) ? undefined : UNMAPPED;
    handlers[apiKey] = {
      wantsRequest: (_frame, exchange) => authorizer.needsChecks(exchange.connection.principal),
      onRequest: async (request: RequestOf<ApiKey>, context: RequestContext<ApiKey>) => {
        if (context.connection.internal) return context.next(request);
        const access = new Access(context.connection.principal, authorizer, topics);
        const response = await authorize(request, context, access);
        if (access.denials.length > 0) denials.refused(log, context, access.denials, reason);
        return response;
      },
    };
  }
  return {
    name: AUTHORIZATION_FEATURE,
    handlers: handlers as ApiHandlers,
    update: (next) => {
      if (!next.enabled) {
        log.warn("authorization cannot be disabled by a reload: it needs a restart; the previous rules stay");
        return;
      }
      authorizer = new Authorizer(next);
      log.info({ principals: next.principals.size }, "authorization rules reloaded");
    },
  };
}

/** The authorization feature; `update` replaces its rules (a reloaded config) for the requests that follow. */
export interface AuthorizationFeature extends Feature {
  update(settings: AuthorizationSettings): void;
}
