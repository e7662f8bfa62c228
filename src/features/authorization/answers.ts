/**
 * How the feature answers: a whole request refused, or only some of its entries (topics, groups, resources)
 * refused while the rest go on to the broker, with error entries for the refused ones merged into the answer,
 * as Kafka's broker answers allowed partitions normally and refused ones with the error.
 */
import type { RequestContext, SendOptions } from "../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, kafkaError, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import type { Access } from "./access.ts";
import { type AclOperation, AUTHORIZATION_FAILED, type ResourceType } from "./operations.ts";

/** The authorization of one API: the client's response, after passing on what may be passed on. */
export type Authorize<K extends ApiKey> = (
  request: RequestOf<K>,
  context: RequestContext<K>,
  access: Access,
) => Promise<ResponseOf<K> | undefined>;

export type Authorizers = { readonly [K in ApiKey]?: Authorize<K> };

/** The message Kafka gives the error of each resource type ("Topic authorization failed."). */
export function failureMessage(resource: ResourceType): string | null {
  return kafkaError(AUTHORIZATION_FAILED[resource])?.message ?? null;
}

/** The request refused as a whole: every entry, and the top level, carry the resource type's error. */
export function refuseWhole<K extends ApiKey>(
  context: RequestContext<K>,
  request: RequestOf<K>,
  resource: ResourceType,
): ResponseOf<K> {
  return refusalResponse(
    context.apiKey,
    context.apiVersion,
    request,
    AUTHORIZATION_FAILED[resource],
    failureMessage(resource),
  );
}

/** The answer to a request left with nothing to ask: an error-free response with empty lists. */
export function emptyResponse<K extends ApiKey>(
  context: RequestContext<K>,
  emptied: RequestOf<K>,
): ResponseOf<K> {
  return refusalResponse(context.apiKey, context.apiVersion, emptied, ErrorCode.NONE);
}

/** A request's entries, sorted into those passed on and those refused, by error code. */
export class Split<E> {
  readonly allowed: E[] = [];
  readonly refused = new Map<number, E[]>();

  allow(entry: E): void {
    this.allowed.push(entry);
  }

  refuse(entry: E, errorCode: number): void {
    const entries = this.refused.get(errorCode);
    if (entries === undefined) this.refused.set(errorCode, [entry]);
    else entries.push(entry);
  }

  get anyRefused(): boolean {
    return this.refused.size > 0;
  }
}

/** One list of a request's entries and where their results go in the response. */
export interface EntryList<K extends ApiKey, E, R> {
  /** The request asking for just these entries. */
  withEntries(request: RequestOf<K>, entries: E[]): RequestOf<K>;
  /** The response's list of results, which error results are appended to. */
  results(response: ResponseOf<K>): R[];
  /** Results for refused entries, each carrying `errorCode`. */
  errorResults(context: RequestContext<K>, request: RequestOf<K>, entries: E[], errorCode: number): R[];
}

/** Error results built as `refusalResponse` builds them: the response list mirrors the request list. */
export function mirroredErrors<K extends ApiKey, E, R>(
  withEntries: (request: RequestOf<K>, entries: E[]) => RequestOf<K>,
  results: (response: ResponseOf<K>) => R[],
): EntryList<K, E, R>["errorResults"] {
  return (context, request, entries, errorCode) =>
    results(refusalResponse(context.apiKey, context.apiVersion, withEntries(request, entries), errorCode));
}

export interface AnswerOptions<K extends ApiKey> {
  /** Pass the request on even when no entry is left (Fetch: a fetch session still answers for its others). */
  readonly forwardEmpty?: boolean;
  readonly send?: SendOptions;
  /** Looks at the broker's answer (and may change it) before error results are merged into it. */
  readonly screen?: (response: ResponseOf<K>) => void;
}

/**
 * Passes on the request with only its allowed entries (unchanged when none is refused) and merges error
 * results for the refused ones into the response. When nothing is left, the broker is not asked.
 */
export async function answerAllowed<K extends ApiKey, E, R>(
  list: EntryList<K, E, R>,
  request: RequestOf<K>,
  context: RequestContext<K>,
  split: Split<E>,
  options: AnswerOptions<K> = {},
): Promise<ResponseOf<K> | undefined> {
  const forward = async (forwarded: RequestOf<K>) => {
    const response = await context.next(forwarded, options.send);
    if (response !== undefined) options.screen?.(response);
    return response;
  };
  if (!split.anyRefused) return forward(request);
  const answered = options.send?.expectResponse !== false;
  const rest = list.withEntries(request, split.allowed);
  let response: ResponseOf<K> | undefined;
  if (split.allowed.length > 0 || options.forwardEmpty) response = await forward(rest);
  else if (answered) response = emptyResponse(context, rest);
  if (response === undefined || !answered) return undefined;
  const results = list.results(response);
  for (const [errorCode, entries] of split.refused) {
    results.push(...list.errorResults(context, request, entries, errorCode));
  }
  return response;
}

/** How entries name their topic: `name` gives the name, or null for an entry naming its topic by id. */
export interface TopicNaming<E> {
  name(entry: E): string | null;
  id?(entry: E): string;
}

/** The topic name of an entry, its id resolved (undefined: an id no one knows). */
function topicNameOf<E>(access: Access, naming: TopicNaming<E>, entry: E): string | undefined {
  const name = naming.name(entry);
  if (name !== null) return name;
  return naming.id ? access.topics.nameOf(naming.id(entry)) : undefined;
}

/**
 * Sorts entries naming topics: allowed when the principal may do `operation` to the topic, refused with
 * TOPIC_AUTHORIZATION_FAILED otherwise, and with UNKNOWN_TOPIC_ID when named by an id no one knows.
 */
export async function splitTopics<E>(
  access: Access,
  operation: AclOperation,
  entries: readonly E[],
  naming: TopicNaming<E>,
): Promise<Split<E>> {
  const idOf = naming.id;
  if (idOf) {
    const unnamed = entries.filter((entry) => naming.name(entry) === null).map(idOf);
    if (unnamed.length > 0) await access.topics.resolve(unnamed);
  }
  const split = new Split<E>();
  for (const entry of entries) {
    const name = topicNameOf(access, naming, entry);
    if (name === undefined) {
      access.denied("topic", `id:${idOf ? idOf(entry) : "?"}`, operation);
      split.refuse(entry, ErrorCode.UNKNOWN_TOPIC_ID);
    } else if (access.check("topic", name, operation)) {
      split.allow(entry);
    } else {
      split.refuse(entry, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    }
  }
  return split;
}

/** Sorts entries naming resources of one type (groups, transactional ids) by whether `operation` is allowed. */
export function splitNamed<E>(
  access: Access,
  resource: ResourceType,
  operation: AclOperation,
  entries: readonly E[],
  name: (entry: E) => string,
): Split<E> {
  const split = new Split<E>();
  for (const entry of entries) {
    if (access.check(resource, name(entry), operation)) split.allow(entry);
    else split.refuse(entry, AUTHORIZATION_FAILED[resource]);
  }
  return split;
}
