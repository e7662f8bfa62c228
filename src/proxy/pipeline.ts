import { ProxyMetrics } from "../admin/metrics.ts";
import {
  decodeFetchResponseTail,
  encodeFetchResponseTail,
  FetchResponseTailFinder,
} from "../protocol/fetch-response-tail.ts";
import { decodeRequest, decodeResponse, encodeResponse, encodeResponseChunks } from "../protocol/frame.ts";
import { API_KEYS } from "../protocol/generated/api-keys.ts";
import type {
  ExchangeContext,
  Feature,
  RequestFeature,
  RequestInterceptor,
  ResponseFeature,
} from "./feature.ts";

function wants(feature: ResponseFeature, context: ExchangeContext, frame?: Buffer): boolean {
  return !feature.wantsResponse || feature.wantsResponse(context, frame);
}

/** The features composed for this proxy, indexed by the api keys they intercept. */
export class Pipeline {
  readonly metrics: ProxyMetrics;
  private readonly known: boolean[] = [];
  private readonly names: string[] = [];
  private readonly responseFeatures: (ResponseFeature[] | undefined)[] = [];
  private readonly requestFeatures: (RequestFeature[] | undefined)[] = [];
  private readonly interceptors: (RequestInterceptor[] | undefined)[] = [];

  constructor(features: Feature[]) {
    for (const api of API_KEYS) {
      this.known[api.apiKey] = true;
      this.names[api.apiKey] = api.name;
    }
    this.metrics = new ProxyMetrics((apiKey) => this.apiName(apiKey));
    for (const feature of features) {
      if ("responseApiKeys" in feature) {
        for (const key of feature.responseApiKeys) (this.responseFeatures[key] ??= []).push(feature);
      }
      if ("requestApiKeys" in feature) {
        for (const key of feature.requestApiKeys) (this.requestFeatures[key] ??= []).push(feature);
      }
      if ("interceptApiKeys" in feature) {
        for (const key of feature.interceptApiKeys) (this.interceptors[key] ??= []).push(feature);
      }
    }
  }

  knowsApi(apiKey: number): boolean {
    return this.known[apiKey] === true;
  }

  apiName(apiKey: number): string {
    return this.names[apiKey] ?? `api-${apiKey}`;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated response body
  answerLocally(context: ExchangeContext, frame: Buffer): { version: number; body: any } | undefined {
    const features = this.requestFeatures[context.apiKey];
    if (!features) return undefined;
    for (const feature of features) {
      const answer = feature.answerLocally?.(context, frame);
      if (answer) return answer;
    }
    return undefined;
  }

  /** The interceptors that want this request, or undefined when it can pass through undecoded. */
  interceptorsFor(context: ExchangeContext, frame: Buffer): RequestInterceptor[] | undefined {
    const interceptors = this.interceptors[context.apiKey];
    if (!interceptors) return undefined;
    let wanted: RequestInterceptor[] | undefined;
    for (const interceptor of interceptors) {
      if (!interceptor.wantsRequest || interceptor.wantsRequest(context, frame))
        (wanted ??= []).push(interceptor);
    }
    return wanted;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated request body
  decodeRequestBody(frame: Buffer): any {
    return decodeRequest(frame.subarray(4)).body;
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated response body
  encodeResponse(apiKey: number, version: number, correlationId: number, body: any): Buffer {
    return encodeResponse(apiKey, version, correlationId, body);
  }

  /** Applies the response features to a body a feature built, then encodes the response frame as chunks. */
  finishResponse(context: ExchangeContext, correlationId: number, body: unknown): Buffer[] {
    const features = this.responseFeatures[context.apiKey];
    if (features) for (const feature of features) feature.onResponse(context, body);
    return encodeResponseChunks(context.apiKey, context.apiVersion, correlationId, body);
  }

  /** Whether some feature may change this exchange's response (judged without its bytes). */
  needsResponseBody(context: ExchangeContext): boolean {
    const features = this.responseFeatures[context.apiKey];
    if (!features) return false;
    for (const feature of features) {
      if (wants(feature, context)) return true;
    }
    return false;
  }

  /**
   * Whether the features that want this response read and change only its top-level tagged fields, which a
   * `FetchResponseTailFinder` locates while the response arrives.
   */
  changesOnlyTail(context: ExchangeContext): boolean {
    if (!FetchResponseTailFinder.handles(context.apiKey, context.apiVersion)) return false;
    const features = this.responseFeatures[context.apiKey];
    if (!features) return false;
    for (const feature of features) {
      if (wants(feature, context) && !feature.tailOnlyApiKeys?.includes(context.apiKey)) return false;
    }
    return true;
  }

  /** Applies the response features to a response tail; returns the tail to send (same size), or undefined when unchanged. */
  rewriteTail(context: ExchangeContext, tail: Buffer): Buffer | undefined {
    const features = this.responseFeatures[context.apiKey];
    if (!features) return undefined;
    const body = decodeFetchResponseTail(context.apiVersion, tail);
    let changed = false;
    for (const feature of features) {
      if (feature.onResponse(context, body)) changed = true;
    }
    return changed ? encodeFetchResponseTail(context.apiVersion, body, tail.length) : undefined;
  }

  /** Returns the response frame to send to the client: the same buffer unless a feature changed it. */
  transformResponse(context: ExchangeContext, frame: Buffer): Buffer {
    const features = this.responseFeatures[context.apiKey];
    if (!features) return frame;
    let wanted = false;
    for (const feature of features) {
      if (wants(feature, context, frame)) wanted = true;
    }
    if (!wanted) return frame;
    const { correlationId, body } = decodeResponse(context.apiKey, context.apiVersion, frame.subarray(4));
    let changed = false;
    for (const feature of features) {
      if (feature.onResponse(context, body)) changed = true;
    }
    if (!changed) return frame;
    return encodeResponse(context.apiKey, context.apiVersion, correlationId, body);
  }
}
