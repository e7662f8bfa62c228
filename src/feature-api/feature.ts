import type { Logger } from "../log/logger.ts";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/api.ts";

/** A value a feature keeps per client connection, created on first use; a `dispose()` method runs on close. */
export class ConnectionStateKey<T> {
  readonly name: string;
  readonly create: () => T;

  constructor(name: string, create: () => T) {
    this.name = name;
    this.create = create;
  }
}

/** One client connection, as features see it. */
export interface ClientConnectionInfo {
  readonly id: number;
  /** The client's address, `host:port`. */
  readonly remote: string;
  /** The listener's name: "bootstrap" or "node-<virtual node id>". */
  readonly listener: string;
  /** The virtual node the client connected to; undefined on the bootstrap listener. */
  readonly nodeId: number | undefined;
  /** The client id of the connection's first request, null before it or when the client sent none. */
  readonly clientId: string | null;
  /**
   * Who the client proved to be: the SASL user (or the JWT's principal claim), else the name mapped from its TLS
   * client certificate, else undefined (an anonymous client, or one that has not authenticated yet).
   */
  readonly principal: string | undefined;
  /** True for the proxy's own requests through the chain (the admin API's, the operations'): not a client's. */
  readonly internal?: boolean;
  /** This connection's value for `key`, created on first use. */
  state<T>(key: ConnectionStateKey<T>): T;
}

export interface SendOptions {
  /** False for requests the broker does not answer (Produce with acks=0): the response is then undefined. */
  expectResponse?: boolean;
  timeoutMs?: number;
  /**
   * The response is read into a pooled buffer and handed here before it is decoded (the decoded body holds
   * slices of it). Give it back with `releaseAfterReply` once nothing will read it after the reply is written.
   */
  onResponseFrame?: (frame: Buffer) => void;
  /**
   * Sends to this virtual node over the proxy's shared connections, instead of the client's own connection to
   * the node it is talking to.
   */
  nodeId?: number;
}

/** What every handler is told about the request it sees. */
export interface ExchangeInfo<K extends ApiKey = ApiKey> {
  readonly apiKey: K;
  readonly apiVersion: number;
  readonly connection: ClientConnectionInfo;
  readonly log: Logger;
  /** The client's request frame (length prefix included), when the request is the client's own. */
  readonly requestFrame: Buffer | undefined;
  /**
   * The virtual node whose broker answers: the one the request was sent to (`SendOptions.nodeId`), else the
   * node the client connected to; undefined for some broker of the default cluster (the bootstrap listener).
   */
  readonly nodeId?: number;
}

/** What a request handler may do: pass the request on, send others on the client's behalf, manage buffers. */
export interface RequestContext<K extends ApiKey = ApiKey> extends ExchangeInfo<K> {
  /**
   * Passes the request on through the features below this one, then to the broker; resolves to the response
   * as it comes back up through them.
   */
  next(request: RequestOf<K>, options?: SendOptions): Promise<ResponseOf<K>>;
  /** Sends another request on the client's behalf, through the features below this one. */
  send<S extends ApiKey>(
    apiKey: S,
    apiVersion: number,
    request: RequestOf<S>,
    options?: SendOptions,
  ): Promise<ResponseOf<S>>;
  /** Gives a pooled buffer back (see `SendOptions.onResponseFrame`) once this request's reply is written. */
  releaseAfterReply(buffer: Buffer): void;
  /** Frees a buffer this request made once its reply is written; nothing may read it afterwards. */
  discardAfterReply(buffer: Buffer): void;
}

/**
 * A feature's handling of one Kafka API. Every part is optional:
 * - `wantsRequest` looks at the raw frame; false leaves this request and its response to the other features.
 *   Requests that a feature sends itself are decoded already and reach every handler below it.
 * - `onRequest` takes the decoded request and returns the response the client gets (undefined when the request
 *   has none, Produce with acks=0), usually after `context.next(request)`.
 * - `onResponse` sees each response on its way back up through this feature and may change it in place; it
 *   returns true when it changed something. Requests no feature takes stay raw bytes, and so do their responses
 *   unless some `onResponse` wants them.
 */
export interface ApiHandler<K extends ApiKey> {
  wantsRequest?(frame: Buffer, exchange: ExchangeInfo<K>): boolean;
  /**
   * Reads every client request frame of the API (length prefix included) as it arrived, before any handler's
   * `wantsRequest`, whether or not a feature takes the request. Read-only, and only during the call.
   */
  observeRequestFrame?(frame: Buffer, exchange: ExchangeInfo<K>): void;
  /**
   * Edits the client's request frame in place, at the same length, before it is passed on raw (no handler took
   * it): for changes that need no decoding, such as a producer id and the CRC that covers it.
   */
  patchRequestFrame?(frame: Buffer, exchange: ExchangeInfo<K>): void;
  onRequest?(request: RequestOf<K>, context: RequestContext<K>): Promise<ResponseOf<K> | undefined>;
  /** Lets a feature skip decoding a response; without `frame` (asked before it arrived) the answer must hold for any. */
  wantsResponse?(exchange: ExchangeInfo<K>, frame?: Buffer): boolean;
  onResponse?(response: ResponseOf<K>, exchange: ExchangeInfo<K>): boolean;
  /**
   * `onResponse` reads and changes only the response's top-level tagged fields, so the response may be passed on
   * while it arrives and `onResponse` gets a body holding just those fields (Fetch v12+).
   */
  readonly changesOnlyTaggedFields?: boolean | ((exchange: ExchangeInfo<K>) => boolean);
  /**
   * Reads the response frame the client gets (length prefix included) of a request passed on raw, whatever
   * `wantsRequest` answered: as the broker sent it, as the features rewrote it, or once streamed (frames up to
   * 64 MiB). Read-only, and only during the call.
   */
  observeResponseFrame?(frame: Buffer, exchange: ExchangeInfo<K>): void;
  /** Reads the decoded response the client gets of a request some feature took, whatever `wantsRequest` answered. */
  observeResponse?(response: ResponseOf<K>, exchange: ExchangeInfo<K>): void;
}

export type ApiHandlers = { readonly [K in ApiKey]?: ApiHandler<K> };

/**
 * A link of the proxy's feature chain. The composition root orders features from the client (first) to the
 * broker (last); a request passes down through them and its response back up.
 */
export interface Feature {
  readonly name: string;
  readonly handlers: ApiHandlers;
  /** A client connected. */
  onAccepted?(connection: ClientConnectionInfo): void;
  /** A client proved who it is (SASL); `principal` is its name. */
  onAuthenticated?(connection: ClientConnectionInfo, principal: string): void;
  /** A client connection closed. */
  onClosed?(connection: ClientConnectionInfo): void;
}
