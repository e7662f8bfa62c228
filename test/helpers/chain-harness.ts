import type {
  ClientConnectionInfo,
  ConnectionStateKey,
  ExchangeInfo,
  Feature,
  SendOptions,
} from "../../src/feature-api/feature.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { ApiKey, type RequestOf, type ResponseOf } from "../../src/protocol/api.ts";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "../../src/protocol/frame.ts";
import { Chain, type ExchangeScope } from "../../src/proxy/chain.ts";

/** A request that reached the fake broker. */
export interface UpstreamCall {
  readonly apiKey: ApiKey;
  readonly apiVersion: number;
  // biome-ignore lint/suspicious/noExplicitAny: any API's request body
  readonly request: any;
  readonly options: SendOptions | undefined;
}

/** Answers a request that reached the broker; undefined for a request the broker does not answer. */
// biome-ignore lint/suspicious/noExplicitAny: any API's response body
export type FakeBroker = (call: UpstreamCall) => any;

export interface Exchanged<K extends ApiKey> {
  /** The client's response, as the client decodes it; undefined when it gets none. */
  readonly response: ResponseOf<K> | undefined;
  /** Whether a feature took the request (false: it went to the broker as the bytes the client sent). */
  readonly intercepted: boolean;
  /** Every request that reached the fake broker, in order. */
  readonly calls: UpstreamCall[];
  readonly releasedAfterReply: Buffer[];
  readonly discardedAfterReply: Buffer[];
  /** The frames of the broker's answers handed to `SendOptions.onResponseFrame`, in order. */
  readonly responseFrames: Buffer[];
}

/** A client connection for tests: an id, a listener, and feature state that lives as long as the object. */
export function fakeConnection(overrides: Partial<ClientConnectionInfo> = {}): ClientConnectionInfo {
  const states = new Map<ConnectionStateKey<unknown>, unknown>();
  return {
    id: 1,
    remote: "127.0.0.1:50000",
    listener: "bootstrap",
    nodeId: undefined,
    clientId: "test-client",
    principal: undefined,
    state<T>(key: ConnectionStateKey<T>): T {
      if (!states.has(key)) states.set(key, key.create());
      return states.get(key) as T;
    },
    ...overrides,
  };
}

/**
 * Sends one client request through `features` composed as a chain, in front of a fake broker, the way the
 * proxy's runtime does: the request is encoded to the bytes a client sends, offered to `wantsRequest`, passed
 * on raw or decoded, and the client's response is encoded and decoded again.
 */
export async function exchange<K extends ApiKey>(
  features: readonly Feature[],
  apiKey: K,
  apiVersion: number,
  request: RequestOf<K>,
  broker: FakeBroker,
  connection: ClientConnectionInfo = fakeConnection(),
): Promise<Exchanged<K>> {
  const chain = new Chain(features);
  const calls: UpstreamCall[] = [];
  const released: Buffer[] = [];
  const discarded: Buffer[] = [];
  const responseFrames: Buffer[] = [];
  const correlationId = 7;
  const frame = encodeRequest({ apiKey, apiVersion, correlationId, clientId: connection.clientId }, request);
  const info: ExchangeInfo<K> = { apiKey, apiVersion, connection, log: silentLogger, requestFrame: frame };
  const answer = async (call: UpstreamCall) => {
    calls.push(call);
    const body = await broker(call);
    if (body === undefined || call.options?.expectResponse === false) return undefined;
    // Through the wire format, as the runtime would receive it.
    const wire = encodeResponse(call.apiKey, call.apiVersion, 0, body);
    if (call.options?.onResponseFrame) {
      responseFrames.push(wire);
      call.options.onResponseFrame(wire);
    }
    return decodeResponse(call.apiKey, call.apiVersion, wire.subarray(4)).body;
  };
  chain.observeRequestFrame(info, frame);
  const links = chain.linksFor(info, frame);
  let response: unknown;
  let intercepted = false;
  if (links && Chain.intercepts(links)) {
    intercepted = true;
    const scope: ExchangeScope = {
      info,
      correlationId,
      upstream: {
        request: (key, version, body, options) =>
          answer({ apiKey: key, apiVersion: version, request: body, options }) as never,
      },
      releaseAfterReply: (buffer) => released.push(buffer),
      discardAfterReply: (buffer) => discarded.push(buffer),
    };
    const decoded = decodeRequest(frame.subarray(4)).body as RequestOf<K>;
    const unanswered = apiKey === ApiKey.Produce && (decoded as { acks: number }).acks === 0;
    const options = unanswered ? { expectResponse: false } : undefined;
    response = await chain.run(scope, info, decoded, options, undefined, links);
  } else {
    const sent = decodeRequest(frame.subarray(4)).body;
    const body = await broker({ apiKey, apiVersion, request: sent, options: undefined });
    calls.push({ apiKey, apiVersion, request: sent, options: undefined });
    if (body !== undefined) {
      let wire = encodeResponse(apiKey, apiVersion, correlationId, body);
      if (links) wire = chain.transformResponse(links, info, wire);
      response = decodeResponse(apiKey, apiVersion, wire.subarray(4)).body;
    }
  }
  if (response !== undefined) {
    const wire = encodeResponse(apiKey, apiVersion, correlationId, response);
    response = decodeResponse(apiKey, apiVersion, wire.subarray(4)).body;
  }
  return {
    response: response as ResponseOf<K> | undefined,
    intercepted,
    calls,
    releasedAfterReply: released,
    discardedAfterReply: discarded,
    responseFrames,
  };
}
