import type net from "node:net";
import type { ProxyMetrics } from "../../admin/metrics.ts";
import type {
  ClientConnectionInfo,
  ConnectionStateKey,
  ExchangeInfo,
  Feature,
  SendOptions,
} from "../../feature-api/feature.ts";
import type { Logger } from "../../log/logger.ts";
import { framePool } from "../../net/frame-pool.ts";
import { FrameError, FrameReader, type FrameSink } from "../../net/frame-reader.ts";
import type { AcceptedConnection } from "../../net/listener.ts";
import {
  type BrokerAddress,
  PREALLOCATE_RESPONSES_UP_TO_BYTES,
  type ResponseHandler,
  UpstreamConnection,
  type UpstreamConnectionCounters,
  type UpstreamSecurity,
} from "../../net/upstream.ts";
import { ApiKey, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { decodeClientRequest, encodeResponse } from "../../protocol/frame.ts";
import {
  fetchMaxBytes,
  frameApiKey,
  frameApiVersion,
  frameClientId,
  frameCorrelationId,
  produceAcks,
  REQUEST_HEADER_MIN_BYTES,
} from "../../protocol/request-peek.ts";
import { frameWaitMs, requestWaitMs } from "../../protocol/request-waits.ts";
import { claimedUser } from "../../security/sasl/claimed-user.ts";
import { Chain, type ChainUpstream, type Link } from "../chain.ts";
import type { MemoryBudget } from "../memory-budget.ts";
import type { ConnectionAuthentication } from "./authentication.ts";
import { intercept } from "./interception.ts";
import { ResponseQueue, type ResponseSlot } from "./response-queue.ts";
import { type StreamTarget, streamUnchanged, streamUpToTail } from "./response-streaming.ts";
import { answerUnsupportedApiVersions } from "./unsupported-api-versions.ts";

/** The brokers a client connection may talk to. */
export interface ConnectionUpstreams {
  /** The broker behind the listener's virtual node, or some broker for the bootstrap listener. */
  addressFor(nodeId: number | undefined): BrokerAddress | undefined;
  /** TLS and SASL of the client's own connection to that broker (plain TCP when undefined). */
  securityFor(nodeId: number | undefined): UpstreamSecurity | undefined;
  /** Counts the client's own broker connection to a node, for metrics. */
  countersFor?(nodeId: number | undefined): UpstreamConnectionCounters | undefined;
  /** The newest ApiVersions version the broker behind a node speaks, when known. */
  apiVersionsLimit(nodeId: number | undefined): number | undefined;
  /** Sends a request to a virtual node over the proxy's shared connections. */
  requestShared<K extends ApiKey>(
    /** Any live node of the default cluster when undefined. */
    nodeId: number | undefined,
    apiKey: K,
    apiVersion: number,
    request: RequestOf<K>,
    clientId: string | null,
  ): Promise<ResponseOf<K>>;
}

export interface ClientConnectionOptions {
  id: number;
  listener: string;
  nodeId: number | undefined;
  maxFrameBytes: number;
  maxInFlightBytes: number;
  /** Requests waiting for their response past which no new request is read (as a broker mutes a channel). */
  maxInFlightRequests: number;
  /** Bytes held for clients across connections; while it is exhausted no connection reads requests. */
  budget?: MemoryBudget;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Closed when nothing is in flight and nothing arrived for this long (enforced by `sweep`; default never). */
  connectionsMaxIdleMs?: number;
  /** Closed when no complete request arrived this long after connecting (enforced by `sweep`; default never). */
  firstFrameTimeoutMs?: number;
  log: Logger;
  chain: Chain;
  metrics: ProxyMetrics;
  upstreams: ConnectionUpstreams;
  /**
   * SASL in terminate mode: until the client authenticates, only ApiVersions (answered over the proxy's own
   * broker connections, so an unauthenticated client costs no broker socket), SaslHandshake and SaslAuthenticate
   * are served; anything else closes the connection.
   */
  authentication?: ConnectionAuthentication;
  /** The client must authenticate within this long of connecting (with `authentication`). */
  authenticationTimeoutMs?: number;
  /** The principal the TLS handshake established (a mapped client certificate), if any. */
  principal?: string;
  /**
   * Passthrough mode: the client's SASL requests go to the broker as they are; the user they name becomes the
   * connection's principal once the client sends anything else (which the broker serves only after success).
   */
  passthroughSasl?: boolean;
  onClosed(connection: ClientConnection): void;
}

/**
 * Why a connection stops reading requests: the broker's socket is full; responses parked behind an unfinished
 * one passed `maxInFlightBytes`; the client does not read what it is sent; `maxInFlightRequests` are waiting;
 * the proxy's memory budget is exhausted; a SASL exchange is being checked (as a broker mutes a channel while it
 * authenticates, so requests sent behind SaslAuthenticate wait for its outcome).
 */
type RequestHold =
  | "broker-busy"
  | "responses-parked"
  | "client-slow"
  | "too-many-requests"
  | "memory"
  | "authenticating";

/** A request the broker does not answer: Produce with acks=0. */
function unanswered(apiKey: ApiKey, request: unknown): boolean {
  return apiKey === ApiKey.Produce && (request as RequestOf<typeof ApiKey.Produce>).acks === 0;
}
const REQUEST_TIMEOUT_SLACK_MS = 5000;
const NO_DEADLINE = Number.POSITIVE_INFINITY;
/**
 * A client's frame gets its whole buffer once a quarter of it has arrived: announcing a large frame and sending
 * little of it costs at most four times the bytes sent.
 */
const CLIENT_ALLOCATION_AHEAD_FACTOR = 4;
/** After the proxy ends its side, a client that reads nothing more for this long is cut. */
const CLOSE_LINGER_MS = 30_000;
/** Socket errors a client causes by going away: one info line, not a warning. */
const CLIENT_GONE = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED"]);

/** The first line of an error's stack below its message, e.g. "at decode (src/x.ts:10:5)". */
function whereThrown(error: unknown): string | undefined {
  const stack = (error as Error | undefined)?.stack;
  return stack ? /\n\s*(at .*)/.exec(stack)?.[1] : undefined;
}

/**
 * One client connection. Requests that no feature takes are forwarded as the bytes received, with only the
 * correlation id rewritten in place; the others run through the feature chain. Responses go back in request
 * order.
 */
export class ClientConnection implements ClientConnectionInfo {
  readonly id: number;
  readonly socket: net.Socket;
  readonly remote: string;
  readonly listener: string;
  readonly nodeId: number | undefined;
  clientId: string | null = null;
  principal: string | undefined = undefined;
  /** When the connection was accepted (ms since the epoch). */
  readonly openedAt = Date.now();
  /** Bytes read from the client (bytes written to it: `socket.bytesWritten`). */
  bytesIn = 0;
  readonly chain: Chain;
  readonly queue: ResponseQueue;
  readonly upstream: ChainUpstream;
  private readonly options: ClientConnectionOptions;
  private readonly authentication: ConnectionAuthentication | undefined;
  /** Passthrough: the mechanism the client's SaslHandshake chose, and the user its first message named. */
  private passthroughMechanism: string | undefined;
  private claimedPrincipal: string | undefined;
  private readonly reader: FrameReader;
  private readonly log: Logger;
  private upstreamConnection: UpstreamConnection | undefined;
  private closed = false;
  private draining = false;
  /** Why the client's requests are not being read, if they are not. */
  private readonly requestHolds = new Set<RequestHold>();
  /** Requests read in the same chunk as one that caused a hold: taken once no hold is left, in order. */
  private readonly deferred: Buffer[] = [];
  private takingDeferred = false;
  private unsubscribeBudget: (() => void) | undefined;
  private readonly states = new Map<ConnectionStateKey<unknown>, unknown>();
  /** Bytes arrived or responses were written since the last `sweep` (the hot path's only part in the idle timeout). */
  private activeSinceSweep = false;
  /** When the connection was last seen active (Date.now(), at sweep granularity). */
  private lastActiveAt: number;
  /** The first complete request must arrive before this (Date.now()). */
  private firstFrameBy: number;
  /** The client must have authenticated before this (Date.now()); see `requireAuthenticationBy`. */
  private authenticateBy = NO_DEADLINE;
  /** The client shut down its sending side (FIN): answer what it asked, then close. */
  private clientEnded = false;

  constructor(accepted: AcceptedConnection, options: ClientConnectionOptions) {
    this.id = options.id;
    this.options = options;
    this.chain = options.chain;
    this.listener = options.listener;
    this.nodeId = options.nodeId;
    this.remote = `${accepted.remoteAddress}:${accepted.remotePort}`;
    this.log = options.log.child({ conn: options.id, client: this.remote, listener: options.listener });
    this.lastActiveAt = Date.now();
    this.firstFrameBy = this.lastActiveAt + (options.firstFrameTimeoutMs ?? NO_DEADLINE);
    this.principal = options.principal;
    this.authentication = options.authentication;
    if (this.authentication)
      this.authenticateBy = this.lastActiveAt + (options.authenticationTimeoutMs ?? NO_DEADLINE);
    // The listener may ask for a read target while it opens, before the reader exists.
    const opened = accepted.open(
      (chunk) => this.onData(chunk),
      () => this.reader?.readTarget(),
    );
    this.reader = new FrameReader(options.maxFrameBytes, true, {
      borrowsChunks: opened.borrowsChunks,
      allocationAheadFactor: CLIENT_ALLOCATION_AHEAD_FACTOR,
      allocateFrame: (size) => framePool.acquire(size),
    });
    const socket = opened.socket;
    this.socket = socket;
    this.queue = new ResponseQueue(
      socket,
      options.metrics,
      options.maxInFlightBytes,
      {
        pauseUpstream: () => this.pauseUpstream(),
        holdRequests: (held) => this.holdRequests("responses-parked", held),
      },
      options.budget,
    );
    this.upstream = {
      request: (apiKey, apiVersion, request, sendOptions) =>
        this.requestUpstream(apiKey, apiVersion, request, sendOptions),
    };
    socket.setNoDelay(true);
    socket.on("drain", () => {
      this.upstreamConnection?.resumeReading();
      this.queue.settleAccount();
      this.holdRequests("client-slow", false);
    });
    const budget = options.budget;
    if (budget) {
      this.unsubscribeBudget = budget.onChange((over) => this.holdRequests("memory", over));
      if (budget.isExhausted) this.holdRequests("memory", true);
    }
    socket.on("error", (error: NodeJS.ErrnoException) =>
      this.close(
        `client socket error: ${error.message}`,
        CLIENT_GONE.has(error.code ?? "") ? "info" : "warn",
      ),
    );
    socket.on("close", () => this.close(undefined));
    socket.on("end", () => this.onClientEnd());
    this.log.info({ principal: this.principal }, "client connection opened");
    for (const feature of this.chain.features) this.notify(feature, "onAccepted");
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inFlight(): number {
    return this.queue.waiting;
  }

  state<T>(key: ConnectionStateKey<T>): T {
    let value = this.states.get(key) as T | undefined;
    if (value === undefined) {
      value = key.create();
      this.states.set(key, value);
    }
    return value;
  }

  /** Stops reading requests; closes once every forwarded request is answered. */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.socket.pause();
    if (this.inFlight === 0) this.close(undefined);
  }

  /**
   * Enforces the connection's deadlines and idle timeout; the server calls it for every connection about once a
   * second with `Date.now()`. A connection is idle while nothing is in flight, held or waiting to be read, no byte
   * arrived and no response was written: a long-polling Fetch in flight keeps it active, and idleness counts from
   * its response.
   */
  sweep(now: number): void {
    if (this.closed) return;
    if (now >= this.firstFrameBy) {
      this.close(
        `no complete request within ${this.options.firstFrameTimeoutMs} ms of connecting (listen.first_frame_timeout_ms)`,
      );
    } else if (now >= this.authenticateBy) {
      this.close("not authenticated in time");
    } else if (
      this.activeSinceSweep ||
      this.queue.waiting > 0 ||
      this.requestHolds.size > 0 ||
      this.deferred.length > 0
    ) {
      this.activeSinceSweep = false;
      this.lastActiveAt = now;
    } else if (now - this.lastActiveAt >= (this.options.connectionsMaxIdleMs ?? NO_DEADLINE)) {
      this.close(
        `idle: no request for ${this.options.connectionsMaxIdleMs} ms (listen.connections_max_idle_ms)`,
      );
    }
  }

  /**
   * The hook for an authentication deadline (TLS/SASL): the connection is closed at `at` (a `Date.now()` time)
   * unless `authenticated()` is called before. Enforced by `sweep`, like the first-frame timeout.
   */
  requireAuthenticationBy(at: number): void {
    this.authenticateBy = at;
  }

  authenticated(): void {
    this.authenticateBy = NO_DEADLINE;
  }

  /** The client will send nothing more: its requests read so far are answered, then the connection closes. */
  private onClientEnd(): void {
    if (this.closed) return;
    this.clientEnded = true;
    this.finishIfAnswered();
  }

  private finishIfAnswered(): void {
    if (this.inFlight === 0 && this.deferred.length === 0) {
      this.draining = true;
      this.close(undefined);
    }
  }

  close(reason: string | undefined, level: "info" | "warn" | "debug" = "info"): void {
    if (this.closed) return;
    this.closed = true;
    this.log[level](
      {
        reason: reason ?? this.quietCloseReason(),
        clientId: this.clientId,
        principal: this.principal,
        bytesIn: this.bytesIn,
        bytesOut: this.socket.bytesWritten,
        durationMs: Date.now() - this.openedAt,
      },
      "client connection closed",
    );
    for (const feature of this.chain.features) this.notify(feature, "onClosed");
    for (const value of this.states.values()) (value as { dispose?: () => void }).dispose?.();
    this.states.clear();
    this.deferred.length = 0;
    this.unsubscribeBudget?.();
    this.queue.settleAccount(true);
    if (this.draining) {
      // Requests written without a response due (Produce acks=0) still reach the broker, and the responses
      // written still reach the client; a client that stops reading is cut after CLOSE_LINGER_MS.
      this.upstreamConnection?.end(CLOSE_LINGER_MS);
      const socket = this.socket;
      socket.end();
      socket.setTimeout(CLOSE_LINGER_MS, () => socket.destroy());
    } else {
      this.upstreamConnection?.close();
      this.socket.destroy();
    }
    this.options.onClosed(this);
  }

  /** Why a connection closed that was not closed for a reason of the proxy's own. */
  private quietCloseReason(): string {
    if (this.clientEnded) return "client closed (half-close; every request answered)";
    if (this.draining) return "proxy shutting down (in-flight requests answered)";
    return "client closed";
  }

  fail(reason: string, level: "info" | "warn" = "warn"): void {
    this.close(reason, level);
  }

  /** The client reads too slowly: stop reading broker responses and its requests until its socket drains. */
  pauseUpstream(): void {
    this.upstreamConnection?.pauseReading();
    this.holdRequests("client-slow", true);
  }

  countResponse(apiKey: number, bytes: number): void {
    this.options.metrics.countResponse(apiKey, bytes);
  }

  countError(apiKey: number, errorCode: unknown): void {
    if (typeof errorCode === "number") this.options.metrics.countError(apiKey, errorCode);
  }

  private notify(feature: Feature, hook: "onAccepted" | "onClosed"): void {
    try {
      feature[hook]?.(this);
    } catch (error) {
      this.log.warn({ feature: feature.name, err: (error as Error).message }, `${hook} failed`);
    }
  }

  /** The broker connection, opened on the first request: a client that never asks anything costs no broker socket. */
  private connectUpstream(): UpstreamConnection | undefined {
    if (this.upstreamConnection) return this.upstreamConnection;
    const address = this.options.upstreams.addressFor(this.nodeId);
    if (!address) {
      this.close(`no upstream address is known for node ${this.nodeId}`, "warn");
      return undefined;
    }
    const upstream = new UpstreamConnection(address, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxFrameBytes: Math.max(this.options.maxFrameBytes, 1024 * 1024 * 1024),
      log: this.log,
      label: `${address.host}:${address.port}`,
      receivingAccount: this.options.budget,
      security: this.options.upstreams.securityFor(this.nodeId),
      counters: this.options.upstreams.countersFor?.(this.nodeId),
    });
    this.upstreamConnection = upstream;
    upstream.on("drain", () => this.holdRequests("broker-busy", false));
    upstream.on("close", (error?: Error) => {
      if (!this.closed) this.close(error ? `upstream: ${error.message}` : "upstream closed", "info");
    });
    return upstream;
  }

  private requestUpstream<K extends ApiKey>(
    apiKey: K,
    apiVersion: number,
    request: RequestOf<K>,
    options: SendOptions | undefined,
  ): Promise<ResponseOf<K>> {
    if (
      options?.nodeId !== undefined ||
      (this.authentication && this.authentication.principal === undefined)
    ) {
      return this.options.upstreams.requestShared(
        options?.nodeId ?? this.nodeId,
        apiKey,
        apiVersion,
        request,
        this.clientId,
      );
    }
    const upstream = this.connectUpstream();
    if (!upstream) return Promise.reject(new Error("no upstream broker for this connection"));
    const { writable, response } = upstream.request(apiKey, apiVersion, request, {
      clientId: this.clientId,
      expectResponse: options?.expectResponse ?? !unanswered(apiKey, request),
      timeoutMs: options?.timeoutMs ?? this.timeoutFor(requestWaitMs(apiKey, request)),
      onResponseFrame: options?.onResponseFrame,
    });
    if (!writable) this.holdRequests("broker-busy", true);
    return response;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.activeSinceSweep = true;
    this.bytesIn += chunk.length;
    const upstream = this.upstreamConnection;
    try {
      upstream?.cork();
      this.reader.push(chunk, this.onFrame);
    } catch (error) {
      if (error instanceof FrameError) this.close(error.message, "warn");
      else this.closeOnError(error);
    } finally {
      upstream?.uncork();
    }
  }

  /**
   * A request whose handling threw: usually bytes the client got wrong that a peek did not expect. One warning
   * line naming the error and where it was thrown; the whole stack at debug level.
   */
  private closeOnError(error: unknown): void {
    this.log.debug({ err: error }, "failed to handle a request");
    const where = whereThrown(error);
    this.close(
      `failed to handle a request: ${(error as Error)?.message ?? String(error)}${where ? ` (${where})` : ""}`,
      "warn",
    );
  }

  private readonly onFrame = (frame: Buffer): void => {
    this.firstFrameBy = NO_DEADLINE;
    if (this.requestHolds.size > 0 || this.deferred.length > 0) this.deferred.push(frame);
    else this.onRequest(frame);
  };

  private takeDeferred(): void {
    if (this.takingDeferred) return;
    this.takingDeferred = true;
    const upstream = this.upstreamConnection;
    try {
      upstream?.cork();
      while (this.deferred.length > 0 && this.requestHolds.size === 0 && !this.closed && !this.draining) {
        this.onRequest(this.deferred.shift()!);
      }
    } catch (error) {
      this.closeOnError(error);
    } finally {
      this.takingDeferred = false;
      upstream?.uncork();
    }
    if (this.clientEnded && !this.closed) this.finishIfAnswered();
  }

  private onRequest(frame: Buffer): void {
    if (this.closed) return;
    if (frame.length < REQUEST_HEADER_MIN_BYTES) {
      this.close(
        `malformed request: a ${frame.length - 4}-byte frame is shorter than a request header`,
        "warn",
      );
      return;
    }
    const apiKey = frameApiKey(frame) as ApiKey;
    const apiVersion = frameApiVersion(frame);
    const correlationId = frameCorrelationId(frame);
    if (this.clientId === null) {
      this.clientId = frameClientId(frame);
      this.log.debug({ clientId: this.clientId, apiKey, apiVersion }, "client's first request");
    }
    const chain = this.chain;
    const metrics = this.options.metrics;
    if (!chain.knowsApi(apiKey)) {
      this.close(`malformed request: unknown api key ${apiKey} (version ${apiVersion})`, "warn");
      return;
    }
    metrics.countRequest(apiKey, frame.length);
    const arrivedAt = performance.now();
    if (this.options.passthroughSasl && this.principal === undefined) this.observeSasl(apiKey, frame);
    const authentication = this.authentication;
    if (
      authentication &&
      this.authenticates(authentication, frame, apiKey, apiVersion, correlationId, arrivedAt)
    )
      return;

    const unsupported = answerUnsupportedApiVersions(
      apiKey,
      apiVersion,
      correlationId,
      apiKey === ApiKey.ApiVersions ? this.options.upstreams.apiVersionsLimit(this.nodeId) : undefined,
    );
    if (unsupported) {
      this.queue.fill(this.queue.reserve(apiKey, arrivedAt), unsupported, unsupported.length);
      this.flush();
      return;
    }

    const info: ExchangeInfo = {
      apiKey,
      apiVersion,
      connection: this,
      log: this.log,
      requestFrame: frame,
      nodeId: this.nodeId,
    };
    chain.observeRequestFrame(info, frame);
    const links = chain.linksFor(info, frame);
    if (authentication && authentication.principal === undefined) {
      // ApiVersions before authentication: asked over the proxy's own connections (see requestUpstream)
      if (intercept(this, links ?? [], info, frame, correlationId, arrivedAt) && !this.isClosed) this.flush();
    } else if (links && Chain.intercepts(links)) {
      if (intercept(this, links, info, frame, correlationId, arrivedAt) && !this.isClosed) this.flush();
    } else {
      this.forward(frame, info, links, correlationId, arrivedAt);
    }
    if (!this.closed) this.limitInFlight();
  }

  /**
   * Serves SaslHandshake and SaslAuthenticate, and refuses what an unauthenticated client may not send (or a client
   * whose session ended without re-authenticating). Returns true when the request was dealt with here.
   */
  private authenticates(
    authentication: ConnectionAuthentication,
    frame: Buffer,
    apiKey: ApiKey,
    apiVersion: number,
    correlationId: number,
    arrivedAt: number,
  ): boolean {
    if (apiKey !== ApiKey.SaslHandshake && apiKey !== ApiKey.SaslAuthenticate) {
      if (authentication.isAuthenticated(Date.now())) return false;
      if (apiKey === ApiKey.ApiVersions) return false;
      const name = this.chain.apiName(apiKey);
      this.close(
        authentication.principal === undefined
          ? `${name} request before authentication (only ApiVersions, SaslHandshake and SaslAuthenticate are served until then)`
          : `${name} request after the session of ${authentication.principal} ended without re-authentication`,
        "warn",
      );
      return true;
    }
    let request: unknown;
    try {
      request = decodeClientRequest(frame.subarray(4)).body;
    } catch (error) {
      this.close(
        `malformed ${this.chain.apiName(apiKey)} v${apiVersion} request: ${(error as Error).message}`,
        "warn",
      );
      return true;
    }
    const slot = this.queue.reserve(apiKey, arrivedAt);
    const reply = (body: unknown) => {
      if (this.closed) return;
      const response = encodeResponse(apiKey, apiVersion, correlationId, body as never);
      this.options.metrics.countResponse(apiKey, response.length);
      this.queue.fill(slot, response, response.length);
      this.flush();
    };
    if (apiKey === ApiKey.SaslHandshake) {
      reply(authentication.handshake(request as RequestOf<typeof ApiKey.SaslHandshake>));
      return true;
    }
    this.holdRequests("authenticating", true);
    authentication.authenticate(request as RequestOf<typeof ApiKey.SaslAuthenticate>).then(
      ({ response, outcome }) => {
        reply(response);
        if (outcome.kind === "failed") {
          this.log.warn({ reason: outcome.reason }, "client authentication failed");
          this.drain();
        } else if (outcome.kind === "authenticated") {
          this.principal = outcome.principal;
          this.authenticateBy = NO_DEADLINE;
          if (!outcome.reauthentication) {
            this.log.info({ principal: outcome.principal }, "client authenticated");
            for (const feature of this.chain.features) this.notifyAuthenticated(feature, outcome.principal);
          }
        }
        if (outcome.kind !== "failed") this.holdRequests("authenticating", false);
      },
      (error: Error) => this.close(`authentication failed: ${error.message}`, "warn"),
    );
    return true;
  }

  /** Passthrough: notes who the client's SASL exchange with the broker claims to be, and when it succeeded. */
  private observeSasl(apiKey: ApiKey, frame: Buffer): void {
    if (apiKey === ApiKey.SaslHandshake || apiKey === ApiKey.SaslAuthenticate) {
      try {
        const request = decodeClientRequest(frame.subarray(4)).body;
        if (apiKey === ApiKey.SaslHandshake) {
          this.passthroughMechanism = (request as RequestOf<typeof ApiKey.SaslHandshake>).mechanism;
        } else if (this.claimedPrincipal === undefined && this.passthroughMechanism) {
          const first = (request as RequestOf<typeof ApiKey.SaslAuthenticate>).authBytes;
          this.claimedPrincipal = claimedUser(this.passthroughMechanism, first);
        }
      } catch {
        // the broker judges the bytes as they are
      }
      return;
    }
    if (apiKey === ApiKey.ApiVersions || this.claimedPrincipal === undefined) return;
    this.principal = this.claimedPrincipal;
    this.log.info(
      { principal: this.principal, mechanism: this.passthroughMechanism },
      "client authenticated by the broker",
    );
    for (const feature of this.chain.features) this.notifyAuthenticated(feature, this.principal);
  }

  private notifyAuthenticated(feature: Feature, principal: string): void {
    try {
      feature.onAuthenticated?.(this, principal);
    } catch (error) {
      this.log.warn({ feature: feature.name, err: (error as Error).message }, "onAuthenticated failed");
    }
  }

  /**
   * Holds the client's requests while `maxInFlightRequests` wait, or while the responses that the requests
   * behind the oldest may hold (Fetch's maxBytes) pass `maxInFlightBytes`: a consumer has one fetch per broker
   * in flight, so only a client that pipelines fetches is held by the bytes, and a long poll does not hold
   * the produce requests behind it.
   */
  private limitInFlight(): void {
    const queue = this.queue;
    const held = this.requestHolds.has("too-many-requests");
    const over =
      queue.waiting >= this.options.maxInFlightRequests ||
      queue.promisedBytesBehindHead > this.options.maxInFlightBytes;
    if (held !== over) this.holdRequests("too-many-requests", over);
  }

  promisedBytes(info: ExchangeInfo, frame: Buffer): number {
    return info.apiKey === ApiKey.Fetch ? (fetchMaxBytes(frame, info.apiVersion) ?? 0) : 0;
  }

  /** Passes a request no feature takes to the broker as the bytes received. */
  private forward(
    frame: Buffer,
    info: ExchangeInfo,
    links: readonly Link[] | undefined,
    correlationId: number,
    arrivedAt: number,
  ): void {
    const apiKey = info.apiKey;
    let expectsResponse = true;
    if (apiKey === ApiKey.Produce) {
      const acks = produceAcks(frame, info.apiVersion);
      if (acks === undefined) {
        this.close(`malformed Produce v${info.apiVersion} request: header or acks field truncated`, "warn");
        return;
      }
      expectsResponse = acks !== 0;
    }
    this.chain.patchRequestFrame(frame, info);
    const upstream = this.connectUpstream();
    if (!upstream) return;
    const releaseAfterWrite = apiKey === ApiKey.Produce ? () => framePool.release(frame) : undefined;
    let writable: boolean;
    if (expectsResponse) {
      const slot = this.queue.reserve(apiKey, arrivedAt, this.promisedBytes(info, frame));
      const metrics = this.options.metrics;
      const handler: ResponseHandler = {
        onResponse: (response) => {
          metrics.observeUpstream(apiKey, arrivedAt);
          this.onResponse(slot, response, correlationId, info, links);
        },
        onFailure: (error) => this.close(`upstream request failed: ${error.message}`, "info"),
        onResponseStart: (frameBytes, head) =>
          this.streamResponse(slot, frameBytes, head, correlationId, info, links),
        releasesResponse: true,
      };
      const timeout = this.timeoutFor(frameWaitMs(frame, apiKey, info.apiVersion));
      writable = upstream.send(frame, handler, timeout, releaseAfterWrite);
    } else {
      writable = upstream.send(frame, undefined, undefined, releaseAfterWrite);
    }
    if (!writable) this.holdRequests("broker-busy", true);
  }

  /**
   * How long a broker may take to answer a request it may hold for `waitMs` (its own Fetch max wait, Produce
   * timeout, rebalance timeout): that wait, plus the request timeout for the rest.
   */
  private timeoutFor(waitMs: number): number {
    return waitMs + this.options.requestTimeoutMs + REQUEST_TIMEOUT_SLACK_MS;
  }

  /** Stops reading the client's requests while any reason holds, and reads on once none does. */
  private holdRequests(reason: RequestHold, held: boolean): void {
    if (held) this.requestHolds.add(reason);
    else this.requestHolds.delete(reason);
    if (this.draining || this.closed) return;
    if (this.requestHolds.size > 0) {
      this.socket.pause();
    } else {
      this.socket.resume();
      if (this.deferred.length > 0) this.takeDeferred();
    }
  }

  private onResponse(
    slot: ResponseSlot,
    response: Buffer,
    correlationId: number,
    info: ExchangeInfo,
    links: readonly Link[] | undefined,
  ): void {
    if (this.closed) return;
    response.writeInt32BE(correlationId, 4);
    let out = response;
    if (links) {
      try {
        out = this.chain.transformResponse(links, info, response);
      } catch (error) {
        this.close(
          `cannot process the broker's ${this.chain.apiName(info.apiKey)} v${info.apiVersion} response: ${(error as Error).message}`,
          "warn",
        );
        return;
      }
    }
    this.options.metrics.countResponse(info.apiKey, out.length);
    this.chain.observeResponseFrame(info, out);
    slot.releaseAfterWrite = out === response;
    this.queue.fill(slot, out, out.length);
    this.flush();
  }

  /**
   * A large response whose turn has come and that no feature needs whole goes to the client as it arrives: as
   * it is, or up to its tagged fields when features change only those.
   */
  private streamResponse(
    slot: ResponseSlot,
    frameBytes: number,
    head: Buffer,
    correlationId: number,
    info: ExchangeInfo,
    links: readonly Link[] | undefined,
  ): FrameSink | undefined {
    if (this.closed || !this.queue.isNext(slot)) return undefined;
    let changesTail = false;
    if (links && Chain.needsResponseBody(links, info)) {
      changesTail = frameBytes <= PREALLOCATE_RESPONSES_UP_TO_BYTES && Chain.changesOnlyTail(links, info);
      if (!changesTail) return undefined;
    }
    head.writeInt32BE(correlationId, 4);
    const metrics = this.options.metrics;
    metrics.countResponse(info.apiKey, frameBytes);
    metrics.countStreamed(info.apiKey);
    metrics.observeUpstream(info.apiKey, slot.arrivedAt);
    const connection = this;
    const target: StreamTarget = {
      socket: this.socket,
      get isClosed() {
        return connection.closed;
      },
      pauseUpstream: () => this.pauseUpstream(),
      fail: (reason) => this.close(reason, "warn"),
      sent: (frame) => {
        if (frame) this.chain.observeResponseFrame(info, frame);
        slot.sent = true;
        metrics.observeRequest(slot.apiKey, slot.arrivedAt);
        this.flush();
      },
    };
    return changesTail
      ? streamUpToTail(target, this.chain, links!, info)
      : streamUnchanged(target, frameBytes);
  }

  flush(): void {
    this.activeSinceSweep = true;
    this.queue.flush();
    if (this.draining && this.inFlight === 0) {
      this.close(undefined);
      return;
    }
    if (this.requestHolds.has("too-many-requests")) this.limitInFlight();
    if (this.clientEnded && !this.closed) this.finishIfAnswered();
  }
}
