import type net from "node:net";
import type { Logger } from "../log/logger.ts";
import { framePool } from "../net/frame-pool.ts";
import { FrameError, FrameReader, type FrameSink } from "../net/frame-reader.ts";
import { adoptWithSharedReads } from "../net/shared-reads.ts";
import {
  type BrokerAddress,
  PREALLOCATE_RESPONSES_UP_TO_BYTES,
  type ResponseHandler,
  UpstreamConnection,
} from "../net/upstream.ts";
import type { UpstreamPool } from "../net/upstream-pool.ts";
import { writeCopy } from "../net/write-copies.ts";
import { FetchResponseTailFinder } from "../protocol/fetch-response-tail.ts";
import type { Exchange, ExchangeContext, RequestInterceptor, SendOptions } from "./feature.ts";
import type { Pipeline } from "./pipeline.ts";
import {
  frameApiKey,
  frameApiVersion,
  frameClientId,
  frameCorrelationId,
  produceAcks,
  REQUEST_HEADER_MIN_BYTES,
} from "./request-peek.ts";

export interface ClientConnectionOptions {
  id: number;
  brokerId: number | undefined;
  maxFrameBytes: number;
  maxInFlightBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  log: Logger;
  pipeline: Pipeline;
  pool: UpstreamPool;
  upstreamFor(brokerId: number | undefined): BrokerAddress | undefined;
  onClosed(connection: ClientConnection): void;
}

/** Buffers an intercepted exchange is done with once its reply is written. */
interface AfterReply {
  /** Pooled buffers, back to `framePool`. */
  releases: Buffer[];
  /** Buffers freed at once (`framePool.discard`). */
  discards: Buffer[];
}

function settle(afterReply: AfterReply): void {
  framePool.releaseAll(afterReply.releases);
  for (const buffer of afterReply.discards) framePool.discard(buffer);
}

interface ResponseSlot {
  /** The response frame, or its chunks (records referenced, not copied), once it is ready. */
  frame: Buffer | Buffer[] | undefined;
  bytes?: number;
  /** The frame is the broker's, unchanged and held by nothing else: its buffer returns to the pool once written. */
  releaseAfterWrite?: boolean;
  /** Buffers the response's bytes may point into, given back or freed once it is written. */
  afterWrite?: AfterReply;
  /** Set once the response has been streamed to the client. */
  sent?: boolean;
  apiKey: number;
  /** `performance.now()` when the request arrived. */
  arrivedAt: number;
}

const JOIN_GROUP = 11;
const PRODUCE = 0;
const LONG_WAIT_APIS = new Set([JOIN_GROUP]);

/**
 * One client connection. Requests are forwarded to the upstream broker the listener stands for; responses go
 * back to the client in request order. Frames that no feature intercepts are forwarded as the bytes received,
 * with only the correlation id rewritten in place.
 */
export class ClientConnection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly remote: string;
  private readonly options: ClientConnectionOptions;
  private readonly reader: FrameReader;
  private readonly log: Logger;
  private upstream: UpstreamConnection | undefined;
  private readonly slots: ResponseSlot[] = [];
  private slotsHead = 0;
  private clientId: string | null = null;
  private closed = false;
  private draining = false;
  private pausedForUpstream = false;
  private pendingResponseBytes = 0;
  private readonly featureState = new Map<string, unknown>();

  constructor(socket: net.Socket, options: ClientConnectionOptions) {
    this.id = options.id;
    const adopted = adoptWithSharedReads(
      socket,
      (chunk) => this.onData(chunk),
      () => this.reader?.readTarget(),
    );
    this.socket = adopted ?? socket;
    this.options = options;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = options.log.child({
      conn: options.id,
      client: this.remote,
      broker: options.brokerId ?? "bootstrap",
    });
    this.reader = new FrameReader(options.maxFrameBytes, true, {
      borrowsChunks: adopted !== undefined,
      allocateFrame: (size) => framePool.acquire(size),
    });
    socket = this.socket;
    socket.setNoDelay(true);
    if (!adopted) {
      socket.on("data", (chunk: Buffer) => this.onData(chunk));
      socket.resume();
    }
    socket.on("drain", () => this.upstream?.resumeReading());
    socket.on("error", (error) => this.close(`client socket error: ${error.message}`, "debug"));
    socket.on("close", () => this.close(undefined));
    socket.on("end", () => this.close(undefined));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inFlight(): number {
    return this.slots.length - this.slotsHead;
  }

  /** Stops reading requests; closes once every forwarded request is answered. */
  drain(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.socket.pause();
    if (this.inFlight === 0) this.close(undefined);
  }

  close(reason: string | undefined, level: "info" | "warn" | "debug" = "info"): void {
    if (this.closed) return;
    this.closed = true;
    if (reason) this.log[level]({ reason }, "closing client connection");
    for (const value of this.featureState.values()) (value as { dispose?: () => void }).dispose?.();
    this.featureState.clear();
    this.upstream?.close();
    if (this.draining) this.socket.end();
    else this.socket.destroy();
    this.options.onClosed(this);
  }

  /** The broker connection, opened on the first request: a client that never asks anything costs no broker socket. */
  private connectUpstream(): UpstreamConnection | undefined {
    if (this.upstream) return this.upstream;
    const address = this.options.upstreamFor(this.options.brokerId);
    if (!address) {
      this.close(`no upstream address is known for broker ${this.options.brokerId}`, "warn");
      return undefined;
    }
    const upstream = new UpstreamConnection(address, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      maxFrameBytes: Math.max(this.options.maxFrameBytes, 1024 * 1024 * 1024),
      log: this.log,
      label: `${address.host}:${address.port}`,
    });
    this.upstream = upstream;
    upstream.on("drain", () => {
      if (this.pausedForUpstream && !this.draining) {
        this.pausedForUpstream = false;
        this.socket.resume();
      }
    });
    upstream.on("close", (error?: Error) => {
      if (!this.closed) this.close(error ? `upstream: ${error.message}` : "upstream closed", "info");
    });
    return upstream;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const upstream = this.upstream;
    try {
      upstream?.cork();
      this.reader.push(chunk, (frame) => this.onRequest(frame));
    } catch (error) {
      if (error instanceof FrameError) this.close(error.message, "warn");
      else this.close(`failed to handle a request: ${(error as Error).stack ?? error}`, "warn");
    } finally {
      upstream?.uncork();
    }
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
    const apiKey = frameApiKey(frame);
    const apiVersion = frameApiVersion(frame);
    const correlationId = frameCorrelationId(frame);
    if (this.clientId === null) this.clientId = frameClientId(frame);
    const pipeline = this.options.pipeline;
    if (!pipeline.knowsApi(apiKey)) {
      this.close(`malformed request: unknown api key ${apiKey} (version ${apiVersion})`, "warn");
      return;
    }
    pipeline.metrics.countRequest(apiKey, frame.length);
    const arrivedAt = performance.now();
    const context = this.context(apiKey, apiVersion, frame);

    const local = pipeline.answerLocally(context, frame);
    if (local) {
      const slot: ResponseSlot = {
        frame: pipeline.encodeResponse(apiKey, local.version, correlationId, local.body),
        apiKey,
        arrivedAt,
      };
      this.slots.push(slot);
      this.flush();
      return;
    }

    const interceptors = pipeline.interceptorsFor(context, frame);
    if (interceptors && this.intercept(interceptors, context, frame, correlationId)) return;

    let expectsResponse = true;
    if (apiKey === PRODUCE) {
      const acks = produceAcks(frame, apiVersion);
      if (acks === undefined) {
        this.close(`malformed Produce v${apiVersion} request: header or acks field truncated`, "warn");
        return;
      }
      expectsResponse = acks !== 0;
    }

    const upstream = this.connectUpstream();
    if (!upstream) return;
    const releaseAfterWrite = apiKey === PRODUCE ? () => framePool.release(frame) : undefined;
    let writable: boolean;
    if (expectsResponse) {
      const slot: ResponseSlot = { frame: undefined, apiKey, arrivedAt };
      this.slots.push(slot);
      const handler: ResponseHandler = {
        onResponse: (response) => {
          pipeline.metrics.observeUpstream(apiKey, arrivedAt);
          this.onResponse(slot, response, correlationId, context);
        },
        onFailure: (error) => this.close(`upstream request failed: ${error.message}`, "info"),
        onResponseStart: (frameBytes, head) =>
          this.streamResponse(slot, frameBytes, head, correlationId, context),
        releasesResponse: true,
      };
      const timeout = LONG_WAIT_APIS.has(apiKey) ? 10 * 60_000 : this.options.requestTimeoutMs + 5000;
      writable = upstream.send(frame, handler, timeout, releaseAfterWrite);
    } else {
      writable = upstream.send(frame, undefined, undefined, releaseAfterWrite);
    }
    if (!writable) this.pauseForUpstream();
  }

  private pauseForUpstream(): void {
    if (this.pausedForUpstream) return;
    this.pausedForUpstream = true;
    this.socket.pause();
  }

  /** Hands a decoded request to the first interceptor that takes it; false when none does. */
  private intercept(
    interceptors: RequestInterceptor[],
    context: ExchangeContext,
    frame: Buffer,
    correlationId: number,
  ): boolean {
    const pipeline = this.options.pipeline;
    let request: unknown;
    try {
      request = pipeline.decodeRequestBody(frame);
    } catch (error) {
      this.close(
        `malformed ${pipeline.apiName(context.apiKey)} v${context.apiVersion} request: ${(error as Error).message}`,
        "warn",
      );
      return true;
    }
    const afterReply: AfterReply = { releases: [], discards: [] };
    const exchange = this.exchange(context, request, correlationId, afterReply);
    for (const interceptor of interceptors) {
      const pending = interceptor.intercept(exchange);
      if (!pending) continue;
      const expectsResponse = !(context.apiKey === PRODUCE && (request as { acks: number }).acks === 0);
      const slot: ResponseSlot | undefined = expectsResponse
        ? { frame: undefined, apiKey: context.apiKey, arrivedAt: performance.now() }
        : undefined;
      if (slot) this.slots.push(slot);
      pending.then(
        (body) => {
          if (!slot || this.closed) return;
          let out: Buffer[];
          try {
            out = pipeline.finishResponse(context, correlationId, body);
          } catch (error) {
            this.close(
              `cannot encode the ${pipeline.apiName(context.apiKey)} response: ${(error as Error).message}`,
              "warn",
            );
            return;
          }
          let bytes = 0;
          for (const chunk of out) bytes += chunk.length;
          pipeline.metrics.countResponse(context.apiKey, bytes);
          slot.frame = out;
          slot.bytes = bytes;
          if (afterReply.releases.length > 0 || afterReply.discards.length > 0) slot.afterWrite = afterReply;
          this.pendingResponseBytes += bytes;
          this.flush();
        },
        (error: Error) => this.close(`${interceptor.name}: ${error.message}`, "info"),
      );
      return true;
    }
    return false;
  }

  private exchange(
    context: ExchangeContext,
    request: unknown,
    correlationId: number,
    afterReply: AfterReply,
  ): Exchange {
    const clientId = this.clientId;
    const pool = this.options.pool;
    const timeout = this.options.requestTimeoutMs + 5000;
    return {
      ...context,
      request,
      correlationId,
      connectionState: this.featureState,
      send: (apiKey: number, apiVersion: number, body: unknown, options?: SendOptions) => {
        const upstream = this.connectUpstream();
        if (!upstream) return Promise.reject(new Error("no upstream broker for this connection"));
        const { writable, response } = upstream.request(apiKey, apiVersion, body, {
          clientId,
          expectResponse: options?.expectResponse,
          timeoutMs: options?.timeoutMs ?? timeout,
          onResponseFrame: options?.onResponseFrame,
        });
        if (!writable) this.pauseForUpstream();
        return response;
      },
      releaseAfterReply: (buffer) => afterReply.releases.push(buffer),
      discardAfterReply: (buffer) => afterReply.discards.push(buffer),
      sendToNode: (nodeId: number, apiKey: number, apiVersion: number, body: unknown) =>
        pool.request(nodeId, apiKey, apiVersion, body, clientId ?? "kafka-partition-proxy"),
    };
  }

  private onResponse(
    slot: ResponseSlot,
    response: Buffer,
    correlationId: number,
    context: ExchangeContext,
  ): void {
    if (this.closed) return;
    response.writeInt32BE(correlationId, 4);
    let out: Buffer;
    try {
      out = this.options.pipeline.transformResponse(context, response);
    } catch (error) {
      this.close(
        `cannot process the broker's ${this.options.pipeline.apiName(context.apiKey)} v${context.apiVersion} response: ${(error as Error).message}`,
        "warn",
      );
      return;
    }
    this.options.pipeline.metrics.countResponse(context.apiKey, out.length);
    slot.frame = out;
    slot.releaseAfterWrite = out === response;
    this.pendingResponseBytes += out.length;
    this.flush();
  }

  /**
   * Cut-through: a large response that no feature needs to see, whose turn has come, goes to the client chunk by
   * chunk as it arrives instead of being collected first.
   */
  private streamResponse(
    slot: ResponseSlot,
    frameBytes: number,
    head: Buffer,
    correlationId: number,
    context: ExchangeContext,
  ): FrameSink | undefined {
    if (this.closed || this.slots[this.slotsHead] !== slot) return undefined;
    const pipeline = this.options.pipeline;
    let changesTail = false;
    if (pipeline.needsResponseBody(context)) {
      changesTail = frameBytes <= PREALLOCATE_RESPONSES_UP_TO_BYTES && pipeline.changesOnlyTail(context);
      if (!changesTail) return undefined;
    }
    head.writeInt32BE(correlationId, 4);
    pipeline.metrics.countResponse(context.apiKey, frameBytes);
    pipeline.metrics.countStreamed(context.apiKey);
    pipeline.metrics.observeUpstream(context.apiKey, slot.arrivedAt);
    if (changesTail) return this.streamUpToTail(slot, context);
    const socket = this.socket;
    let assembled: Buffer | undefined;
    let unwritten = frameBytes;
    return {
      assembling: (frame) => {
        assembled = frame;
      },
      write: (bytes, borrowed) => {
        if (this.closed) return;
        unwritten -= bytes.length;
        let writable: boolean;
        if (borrowed) writable = writeCopy(socket, bytes);
        else if (unwritten === 0 && assembled) {
          const frame = assembled;
          writable = socket.write(bytes, () => framePool.release(frame));
        } else writable = socket.write(bytes);
        if (!writable) this.upstream?.pauseReading();
      },
      end: () => {
        slot.sent = true;
        pipeline.metrics.observeRequest(slot.apiKey, slot.arrivedAt);
        this.flush();
      },
    };
  }

  /**
   * Streams a response whose features change only its tail: the bytes before the tail pass on as they arrive,
   * and the tail, rewritten at its size, follows the last byte.
   */
  private streamUpToTail(slot: ResponseSlot, context: ExchangeContext): FrameSink {
    const socket = this.socket;
    const finder = new FetchResponseTailFinder(context.apiVersion);
    let assembled: Buffer | undefined;
    let arrived = 0;
    let sent = 0;
    const fail = (reason: string) => {
      assembled = undefined;
      this.close(
        `malformed ${this.options.pipeline.apiName(context.apiKey)} response from upstream: ${reason}`,
        "warn",
      );
    };
    const sendUpTo = (end: number, onWritten?: () => void) => {
      if (end > sent || onWritten) {
        if (!socket.write(assembled!.subarray(sent, end), onWritten)) this.upstream?.pauseReading();
        sent = end;
      }
    };
    return {
      assembling: (frame) => {
        assembled = frame;
      },
      write: (bytes) => {
        if (this.closed || !assembled) return;
        arrived += bytes.length;
        try {
          sendUpTo(finder.advance(assembled, arrived));
        } catch (error) {
          fail((error as Error).message);
        }
      },
      end: () => {
        if (this.closed || !assembled) return;
        const frame = assembled;
        try {
          if (finder.tailStart < 0) throw new Error(`its ${frame.length} bytes end before its tagged fields`);
          sendUpTo(finder.tailStart);
          const tail = frame.subarray(finder.tailStart);
          const rewritten = this.options.pipeline.rewriteTail(context, tail);
          if (rewritten) rewritten.copy(frame, finder.tailStart);
          sendUpTo(frame.length, () => framePool.release(frame));
        } catch (error) {
          fail((error as Error).message);
          return;
        }
        slot.sent = true;
        this.options.pipeline.metrics.observeRequest(slot.apiKey, slot.arrivedAt);
        this.flush();
      },
    };
  }

  private flush(): void {
    const socket = this.socket;
    let wrote = false;
    let writable = true;
    while (this.slotsHead < this.slots.length) {
      const slot = this.slots[this.slotsHead]!;
      if (slot.sent) {
        this.slotsHead++;
        continue;
      }
      if (!slot.frame) break;
      if (!wrote) {
        socket.cork();
        wrote = true;
      }
      const frame = slot.frame;
      this.options.pipeline.metrics.observeRequest(slot.apiKey, slot.arrivedAt);
      if (Array.isArray(frame)) {
        const last = frame.length - 1;
        for (let i = 0; i < last; i++) writable = socket.write(frame[i]!);
        const afterWrite = slot.afterWrite;
        writable = socket.write(frame[last]!, afterWrite ? () => settle(afterWrite) : undefined);
        this.pendingResponseBytes -= slot.bytes!;
      } else {
        writable = socket.write(frame, slot.releaseAfterWrite ? () => framePool.release(frame) : undefined);
        this.pendingResponseBytes -= frame.length;
      }
      slot.frame = undefined;
      this.slotsHead++;
    }
    if (this.slotsHead === this.slots.length) {
      this.slots.length = 0;
      this.slotsHead = 0;
    } else if (this.slotsHead > 1024) {
      this.slots.splice(0, this.slotsHead);
      this.slotsHead = 0;
    }
    if (wrote) socket.uncork();
    if (!writable || this.pendingResponseBytes > this.options.maxInFlightBytes) this.upstream?.pauseReading();
    if (this.draining && this.inFlight === 0) this.close(undefined);
  }

  private context(apiKey: number, apiVersion: number, requestFrame: Buffer): ExchangeContext {
    return {
      apiKey,
      apiVersion,
      clientId: this.clientId,
      brokerId: this.options.brokerId,
      log: this.log,
      requestFrame,
    };
  }
}
