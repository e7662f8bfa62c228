import type { Logger } from "../log/logger.ts";

export interface ExchangeContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly clientId: string | null;
  /** The upstream broker this connection's listener stands for; undefined on the bootstrap listener. */
  readonly brokerId: number | undefined;
  readonly log: Logger;
  /** The client's request frame (length prefix included), for features that must look at what was asked. */
  readonly requestFrame?: Buffer;
}

export interface SendOptions {
  /** False for requests the broker does not answer (Produce with acks=0). */
  expectResponse?: boolean;
  timeoutMs?: number;
  /**
   * The response is read into a pooled buffer and handed here before it is decoded (the decoded body holds
   * slices of it). Give it back with `releaseAfterReply` once nothing will read it after a reply is written.
   */
  onResponseFrame?: (frame: Buffer) => void;
}

/** A request a feature took over, with the means to talk to brokers on the client's behalf. */
export interface Exchange extends ExchangeContext {
  // biome-ignore lint/suspicious/noExplicitAny: generated request body for apiKey
  readonly request: any;
  readonly correlationId: number;
  /** Sends a request to the broker behind this client connection, in order with the client's own requests. */
  // biome-ignore lint/suspicious/noExplicitAny: generated response body
  send(apiKey: number, apiVersion: number, body: unknown, options?: SendOptions): Promise<any>;
  /**
   * State a feature keeps for this client connection (e.g. a read-ahead), by a key of its own; on close, values
   * with a `dispose()` method are disposed, then all are dropped.
   */
  readonly connectionState: Map<string, unknown>;
  /**
   * Returns a pooled buffer (see `SendOptions.onResponseFrame`, `framePool`) once this exchange's reply has been
   * written: nothing may hold slices of it past that point.
   */
  releaseAfterReply(buffer: Buffer): void;
  /**
   * Frees a buffer this exchange made (or its request frame) once its reply has been written, instead of
   * leaving it to the garbage collector (`framePool.discard`): nothing may read it, or slices of it, afterwards.
   */
  discardAfterReply(buffer: Buffer): void;
  /** Sends a request to any broker of the cluster over the proxy's shared connections. */
  // biome-ignore lint/suspicious/noExplicitAny: generated response body
  sendToNode(nodeId: number, apiKey: number, apiVersion: number, body: unknown): Promise<any>;
}

/**
 * A feature declares the api keys whose responses it needs decoded. Responses of other keys stay raw bytes.
 * `onResponse` mutates the decoded body and returns true when it changed something, so the proxy re-encodes.
 */
export interface ResponseFeature {
  readonly name: string;
  readonly responseApiKeys: readonly number[];
  /**
   * Lets a feature skip decoding, e.g. for versions that carry nothing it rewrites. Without `frame` (asked before
   * the response has arrived), the answer must hold for any response.
   */
  wantsResponse?(context: ExchangeContext, frame?: Buffer): boolean;
  /**
   * Api keys whose responses this feature reads and changes only in their top-level tagged fields; such a
   * response can be passed on while it arrives, and `onResponse` sees a body holding just those fields.
   */
  readonly tailOnlyApiKeys?: readonly number[];
  // biome-ignore lint/suspicious/noExplicitAny: bodies are generated message types chosen by api key
  onResponse(context: ExchangeContext, body: any): boolean;
}

/**
 * A feature may answer a request itself (returning a complete response body) instead of forwarding it.
 */
export interface RequestFeature {
  readonly name: string;
  readonly requestApiKeys: readonly number[];
  // biome-ignore lint/suspicious/noExplicitAny: bodies are generated message types chosen by api key
  answerLocally?(context: ExchangeContext, frame: Buffer): { version: number; body: any } | undefined;
}

/**
 * A feature that takes over decoded requests of its api keys: it returns the response body (a promise), or
 * undefined to let the request pass through as its original bytes. Response features still apply to the body.
 */
export interface RequestInterceptor {
  readonly name: string;
  readonly interceptApiKeys: readonly number[];
  /** Cheap pre-check on the raw frame (length prefix included); false forwards the frame undecoded. */
  wantsRequest?(context: ExchangeContext, frame: Buffer): boolean;
  intercept(exchange: Exchange): Promise<unknown> | undefined;
}

export type Feature = ResponseFeature | RequestFeature | RequestInterceptor;
