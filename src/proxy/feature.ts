import type { Logger } from "../log/logger.ts";

export interface ExchangeContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly clientId: string | null;
  /** The upstream broker this connection's listener stands for; undefined on the bootstrap listener. */
  readonly brokerId: number | undefined;
  readonly log: Logger;
}

/**
 * A feature declares the api keys whose responses it needs decoded. Responses of other keys stay raw bytes.
 * `onResponse` mutates the decoded body and returns true when it changed something, so the proxy re-encodes.
 */
export interface ResponseFeature {
  readonly name: string;
  readonly responseApiKeys: readonly number[];
  /** Lets a feature skip decoding, e.g. for versions that carry nothing it rewrites. */
  wantsResponse?(context: ExchangeContext, frame: Buffer): boolean;
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
