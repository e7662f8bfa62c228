import type {
  ApiHandler,
  ExchangeInfo,
  Feature,
  RequestContext,
  SendOptions,
} from "../feature-api/feature.ts";
import { API_KEYS, type ApiKey, type RequestOf, type ResponseOf } from "../protocol/api.ts";
import {
  decodeFetchResponseTail,
  encodeFetchResponseTail,
  FetchResponseTailFinder,
} from "../protocol/fetch-response-tail.ts";
import { decodeResponse, encodeResponse } from "../protocol/frame.ts";

/** One feature's handler of one API, at its place in the chain (0 = nearest the client). */
export interface Link {
  readonly feature: Feature;
  readonly position: number;
  // biome-ignore lint/suspicious/noExplicitAny: a link holds the handler of whichever API it serves
  readonly handler: ApiHandler<any>;
}

/** Where requests go once no feature below takes them: the broker, on the client's connection or a shared one. */
export interface ChainUpstream {
  request<K extends ApiKey>(
    apiKey: K,
    apiVersion: number,
    request: RequestOf<K>,
    options: SendOptions | undefined,
  ): Promise<ResponseOf<K>>;
}

/** What a request handler's context needs from the exchange it belongs to, besides the chain. */
export interface ExchangeScope {
  readonly info: ExchangeInfo;
  readonly correlationId: number;
  readonly upstream: ChainUpstream;
  releaseAfterReply(buffer: Buffer): void;
  discardAfterReply(buffer: Buffer): void;
}

const NOTHING_ABOVE = -1;

/** Whether a link changes responses of this exchange (judged from its bytes when given). */
function seesResponse(link: Link, info: ExchangeInfo, frame?: Buffer): boolean {
  const handler = link.handler;
  return handler.onResponse !== undefined && (!handler.wantsResponse || handler.wantsResponse(info, frame));
}

/**
 * The composed features, indexed by the APIs they handle. A request walks down the links of its API, from
 * the client towards the broker; the first link with `onRequest` takes it, and every `onResponse` between
 * the start and the link that answered sees the response on its way back up.
 */
export class Chain {
  readonly features: readonly Feature[];
  private readonly links: (readonly Link[] | undefined)[] = [];
  private readonly filtered: boolean[] = [];
  private readonly patchers: (Link[] | undefined)[] = [];
  private readonly names: string[] = [];
  private readonly requestObservers: (ApiHandler<ApiKey>[] | undefined)[] = [];
  private readonly frameObservers: (ApiHandler<ApiKey>[] | undefined)[] = [];
  private readonly bodyObservers: (ApiHandler<ApiKey>[] | undefined)[] = [];

  constructor(features: readonly Feature[]) {
    this.features = features;
    for (const api of API_KEYS) this.names[api.apiKey] = api.name;
    features.forEach((feature, position) => {
      for (const [key, handler] of Object.entries(feature.handlers)) {
        if (!handler) continue;
        const apiKey = Number(key);
        const links = (this.links[apiKey] ?? []) as Link[];
        links.push({ feature, position, handler });
        this.links[apiKey] = links;
        if (handler.wantsRequest) this.filtered[apiKey] = true;
        if (handler.patchRequestFrame) (this.patchers[apiKey] ??= []).push({ feature, position, handler });
        if (handler.observeRequestFrame)
          (this.requestObservers[apiKey] ??= []).push(handler as ApiHandler<ApiKey>);
        if (handler.observeResponseFrame)
          (this.frameObservers[apiKey] ??= []).push(handler as ApiHandler<ApiKey>);
        if (handler.observeResponse) (this.bodyObservers[apiKey] ??= []).push(handler as ApiHandler<ApiKey>);
      }
    });
  }

  knowsApi(apiKey: number): boolean {
    return this.names[apiKey] !== undefined;
  }

  apiName(apiKey: number): string {
    return this.names[apiKey] ?? `api-${apiKey}`;
  }

  /** Shows a client request frame, as it arrived, to the handlers of its API that observe request frames. */
  observeRequestFrame(info: ExchangeInfo, frame: Buffer): void {
    const observers = this.requestObservers[info.apiKey];
    if (observers) for (const handler of observers) handler.observeRequestFrame!(frame, info);
  }

  /** The links that take part in a client request: all of its API's, less those whose `wantsRequest` declines. */
  linksFor(info: ExchangeInfo, frame: Buffer): readonly Link[] | undefined {
    const links = this.links[info.apiKey];
    if (!links || !this.filtered[info.apiKey]) return links;
    let wanted: Link[] | undefined;
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!;
      const wants = !link.handler.wantsRequest || link.handler.wantsRequest(frame, info);
      if (wanted) {
        if (wants) wanted.push(link);
      } else if (!wants) wanted = links.slice(0, i);
    }
    if (!wanted) return links;
    return wanted.length > 0 ? wanted : undefined;
  }

  /** Lets every handler of the API that patches request frames edit one passed on raw, whatever it wanted. */
  patchRequestFrame(frame: Buffer, info: ExchangeInfo): void {
    const patchers = this.patchers[info.apiKey];
    if (patchers) for (const link of patchers) link.handler.patchRequestFrame!(frame, info);
  }

  /** Shows the response frame a client gets of a request passed on raw to the handlers that observe them. */
  observeResponseFrame(info: ExchangeInfo, frame: Buffer): void {
    const observers = this.frameObservers[info.apiKey];
    if (observers) for (const handler of observers) handler.observeResponseFrame!(frame, info);
  }

  /** Shows the decoded response a client gets of a request some feature took to the handlers that observe them. */
  observeResponse(info: ExchangeInfo, response: unknown): void {
    const observers = this.bodyObservers[info.apiKey];
    if (observers) for (const handler of observers) handler.observeResponse!(response as never, info);
  }

  /** Whether some link takes the request itself, so it must be decoded. */
  static intercepts(links: readonly Link[]): boolean {
    for (const link of links) if (link.handler.onRequest) return true;
    return false;
  }

  /**
   * Runs a decoded request through `links` below position `above`, down to the broker, and its response back up.
   * `links` defaults to every link of the API: only the client's own request, still as it arrived, is offered to
   * just the links whose `wantsRequest` took it.
   */
  run<K extends ApiKey>(
    scope: ExchangeScope,
    info: ExchangeInfo<K>,
    request: RequestOf<K>,
    options: SendOptions | undefined,
    above = NOTHING_ABOVE,
    links: readonly Link[] | undefined = this.links[info.apiKey],
  ): Promise<ResponseOf<K>> {
    if (options?.nodeId !== undefined) {
      if (options.nodeId !== info.nodeId) info = { ...info, nodeId: options.nodeId };
    } else if (info.nodeId !== undefined && info.nodeId !== info.connection.nodeId) {
      // An exchange sent to another node stays there through every handler below that passes it on.
      options = { ...options, nodeId: info.nodeId };
    }
    let taker: Link | undefined;
    if (links) {
      for (const link of links) {
        if (link.position > above && link.handler.onRequest) {
          taker = link;
          break;
        }
      }
    }
    const answered = taker
      ? (taker.handler.onRequest!(request, this.context(scope, info, taker.position)) as Promise<
          ResponseOf<K>
        >)
      : scope.upstream.request(info.apiKey, info.apiVersion, request, options);
    if (!links) return answered;
    const lowest = taker ? taker.position : Number.POSITIVE_INFINITY;
    return answered.then((response) => {
      if (response !== undefined) this.applyResponses(links, info, response, above, lowest);
      return response;
    });
  }

  private context<K extends ApiKey>(
    scope: ExchangeScope,
    info: ExchangeInfo<K>,
    position: number,
  ): RequestContext<K> {
    return {
      ...info,
      next: (request, options) => this.run(scope, info, request, options, position),
      send: (apiKey, apiVersion, request, options) =>
        this.run(
          scope,
          {
            apiKey,
            apiVersion,
            connection: info.connection,
            log: info.log,
            requestFrame: undefined,
            nodeId: info.nodeId,
          },
          request,
          options,
          position,
        ),
      releaseAfterReply: (buffer) => scope.releaseAfterReply(buffer),
      discardAfterReply: (buffer) => scope.discardAfterReply(buffer),
    };
  }

  /** Applies `onResponse` of the links above `lowest` (included) and below `above`, nearest the broker first. */
  private applyResponses(
    links: readonly Link[],
    info: ExchangeInfo,
    response: unknown,
    above: number,
    lowest: number,
  ): boolean {
    let changed = false;
    for (let i = links.length - 1; i >= 0; i--) {
      const link = links[i]!;
      if (link.position > lowest || link.position <= above || !seesResponse(link, info)) continue;
      if (link.handler.onResponse!(response, info)) changed = true;
    }
    return changed;
  }

  /** Whether some link may change the response of a request passed on raw (judged without its bytes). */
  static needsResponseBody(links: readonly Link[], info: ExchangeInfo): boolean {
    return Chain.anySeesResponse(links, info);
  }

  private static anySeesResponse(links: readonly Link[], info: ExchangeInfo, frame?: Buffer): boolean {
    for (const link of links) if (seesResponse(link, info, frame)) return true;
    return false;
  }

  /** Whether the links that want this response change only its top-level tagged fields. */
  static changesOnlyTail(links: readonly Link[], info: ExchangeInfo): boolean {
    if (!FetchResponseTailFinder.handles(info.apiKey, info.apiVersion)) return false;
    for (const link of links) {
      if (!seesResponse(link, info)) continue;
      const onlyTail = link.handler.changesOnlyTaggedFields;
      if (!(typeof onlyTail === "function" ? onlyTail(info) : onlyTail)) return false;
    }
    return true;
  }

  /** Applies the links to a response tail; returns the tail to send (same size), or undefined when unchanged. */
  rewriteTail(links: readonly Link[], info: ExchangeInfo, tail: Buffer): Buffer | undefined {
    const body = decodeFetchResponseTail(info.apiVersion, tail);
    const changed = this.applyResponses(links, info, body, NOTHING_ABOVE, Number.POSITIVE_INFINITY);
    return changed ? encodeFetchResponseTail(info.apiVersion, body, tail.length) : undefined;
  }

  /** The response frame of a request passed on raw: the broker's own buffer unless a link changed it. */
  transformResponse(links: readonly Link[], info: ExchangeInfo, frame: Buffer): Buffer {
    if (!Chain.anySeesResponse(links, info, frame)) return frame;
    const { correlationId, body } = decodeResponse(info.apiKey, info.apiVersion, frame.subarray(4));
    if (!this.applyResponses(links, info, body, NOTHING_ABOVE, Number.POSITIVE_INFINITY)) return frame;
    return encodeResponse(info.apiKey, info.apiVersion, correlationId, body);
  }
}
