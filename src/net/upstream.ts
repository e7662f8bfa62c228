import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";
import type { Logger } from "../log/logger.ts";
import type { ApiKey, RequestOf, ResponseOf } from "../protocol/api.ts";
import { decodeResponse, encodeRequestChunks } from "../protocol/frame.ts";
import { framePool } from "./frame-pool.ts";
import { FrameReader, type FrameSink } from "./frame-reader.ts";
import { sharedReads, WRITE_HIGH_WATER_BYTES } from "./shared-reads.ts";

export interface BrokerAddress {
  host: string;
  port: number;
}

export interface ResponseHandler {
  onResponse(frame: Buffer): void;
  onFailure(error: Error): void;
  /**
   * Offered a large response whose first bytes (`head`, length prefix included) have arrived: a sink returned
   * receives the frame's bytes as they arrive, and `onResponse` is not called.
   */
  onResponseStart?(frameBytes: number, head: Buffer): FrameSink | undefined;
  /** The handler gives the response frame back to `framePool` once done with it, so it is read into a pooled buffer. */
  readonly releasesResponse?: boolean;
}

/** Responses at least this large may be streamed to a handler instead of being collected first. */
export const STREAM_RESPONSES_FROM_BYTES = 64 * 1024;
/** Responses up to this size are assembled in one buffer, streamed ones included. */
export const PREALLOCATE_RESPONSES_UP_TO_BYTES = 64 * 1024 * 1024;

interface InFlight {
  correlationId: number;
  handler: ResponseHandler;
  sentAt: number;
  timeoutMs: number;
  /** Timed out and answered with a failure: its response, if it comes, is dropped. */
  abandoned?: boolean;
}

/** What an abandoned request's response goes to. */
const DROP_RESPONSE: ResponseHandler = { onResponse: () => {}, onFailure: () => {} };

/** Where a connection reports the bytes it allocates for frames it is still receiving. */
export interface ByteAccount {
  add(bytes: number): void;
  remove(bytes: number): void;
}

/** Sends requests on a connection that is authenticating, ahead of every request waiting for it to finish. */
export interface AuthenticationChannel {
  request<K extends ApiKey>(apiKey: K, apiVersion: number, body: RequestOf<K>): Promise<ResponseOf<K>>;
  readonly label: string;
}

/** Proves the proxy's identity on a new connection (SASL); resolves to the session's lifetime in ms (0: none). */
export type Authenticate = (channel: AuthenticationChannel) => Promise<number>;

/** TLS and authentication of a broker connection. */
export interface UpstreamSecurity {
  /** TLS towards the broker; plain TCP when absent. */
  readonly tls?: tls.ConnectionOptions;
  /** Runs once connected, before any request is written; requests sent meanwhile wait. */
  readonly authenticate?: Authenticate;
}

/** Re-authenticate when this share of a SASL session's lifetime has passed (KIP-368 clients use 85-95%). */
const REAUTHENTICATE_AT_SHARE = 0.85;

interface WaitingSend {
  frame: Buffer | Buffer[];
  handler: ResponseHandler | undefined;
  timeoutMs: number;
  onWritten: (() => void) | undefined;
}

export interface UpstreamOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  log: Logger;
  label: string;
  /** Counts each response's buffer from its allocation until the whole response has arrived. */
  receivingAccount?: ByteAccount;
  /**
   * For connections shared by many clients' requests: a request that times out fails alone and its response
   * is dropped when it comes; the connection is closed only once the broker has been silent for a further
   * `requestTimeoutMs`. Otherwise (a client's own connection) the first timeout closes the connection, as the
   * broker's silence would.
   */
  sharedByClients?: boolean;
  security?: UpstreamSecurity;
  /** Told of the connection's outcome (once ready, or failed) and of its close, for metrics. */
  counters?: UpstreamConnectionCounters;
}

/** What a connection tells about itself, for metrics (counted per upstream cluster). */
export interface UpstreamConnectionCounters {
  /** Connecting ended: "connected" (TLS and SASL included), or "failed" (refused, timed out, TLS or SASL failure). */
  connectAttempted(outcome: "connected" | "failed"): void;
  /** A connection counted as connected closed. */
  closed(): void;
}

export class UpstreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamError";
  }
}

const TIMEOUT_CHECK_MS = 1000;
const CORRELATION_ID_OFFSET = 8;

/** Writes a request's correlation id into its frame chunks, wherever the chunk boundaries fall. */
export function writeCorrelationId(chunks: Buffer[], correlationId: number): void {
  const first = chunks[0]!;
  if (first.length >= CORRELATION_ID_OFFSET + 4) {
    first.writeInt32BE(correlationId, CORRELATION_ID_OFFSET);
    return;
  }
  let skip = CORRELATION_ID_OFFSET;
  let shift = 24;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length && shift >= 0; i++) {
      if (skip > 0) {
        skip--;
        continue;
      }
      chunk[i] = (correlationId >>> shift) & 0xff;
      shift -= 8;
    }
    if (shift < 0) return;
  }
}

/** A handler that decodes the response of `apiKey` at `apiVersion` (after `onResponseFrame` sees its frame). */
function decodingHandler<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  resolve: (response: ResponseOf<K>) => void,
  reject: (error: unknown) => void,
  onResponseFrame?: (frame: Buffer) => void,
): ResponseHandler {
  return {
    releasesResponse: onResponseFrame !== undefined,
    onResponse: (answer) => {
      onResponseFrame?.(answer);
      try {
        resolve(decodeResponse(apiKey, apiVersion, answer.subarray(4)).body as ResponseOf<K>);
      } catch (error) {
        reject(error);
      }
    },
    onFailure: reject,
  };
}

/**
 * One TCP connection to a broker. Requests are sent with the proxy's own correlation ids; responses arrive in
 * request order (Kafka answers each connection in order), so in-flight requests form a FIFO queue.
 * Events: "drain" when writable again after write() returned false, "close" once, with the error if any.
 */
export class UpstreamConnection extends EventEmitter {
  readonly address: BrokerAddress;
  private readonly socket: net.Socket | tls.TLSSocket;
  private readonly reader: FrameReader;
  private readonly inFlight: InFlight[] = [];
  private inFlightHead = 0;
  private nextCorrelationId = 1;
  private closed = false;
  private connected = false;
  /** Counted as connected in `UpstreamOptions.counters` (and not yet as closed). */
  private countedOpen = false;
  /** Closed by the proxy before it connected: not a failed attempt. */
  private closedByProxy = false;
  private readonly options: UpstreamOptions;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes allocated for the response being received, counted in `receivingAccount`. */
  private receivingBytes = 0;
  /** Requests sent while the connection authenticates: written, in order, once it has. */
  private waiting: WaitingSend[] | undefined;
  private reauthenticationTimer: NodeJS.Timeout | undefined;
  readonly ready: Promise<void>;

  constructor(address: BrokerAddress, options: UpstreamOptions) {
    super();
    this.address = address;
    this.options = options;
    this.reader = new FrameReader(options.maxFrameBytes, false, {
      borrowsChunks: true,
      preallocateUpTo: PREALLOCATE_RESPONSES_UP_TO_BYTES,
      allocateFrame: (size) => {
        this.accountReceiving(size);
        return this.inFlight[this.inFlightHead]?.handler.releasesResponse
          ? framePool.acquire(size)
          : Buffer.allocUnsafe(size);
      },
      allocateStreamedFrame: (size) => framePool.acquire(size),
    });
    this.reader.streamFramesFrom(STREAM_RESPONSES_FROM_BYTES, (frameBytes, head) =>
      this.offerStream(frameBytes, head),
    );
    const security = options.security;
    if (security?.authenticate) this.waiting = [];
    if (security?.tls) {
      this.socket = tls.connect({
        ...security.tls,
        host: address.host,
        port: address.port,
        servername: security.tls.servername ?? (net.isIP(address.host) ? undefined : address.host),
        noDelay: true,
        highWaterMark: WRITE_HIGH_WATER_BYTES,
      } as tls.ConnectionOptions);
      this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    } else {
      this.socket = net.connect({
        host: address.host,
        port: address.port,
        noDelay: true,
        writableHighWaterMark: WRITE_HIGH_WATER_BYTES,
        onread: sharedReads(
          (chunk) => this.onData(chunk),
          () => this.reader.readTarget(),
        ),
      } as net.NetConnectOpts);
    }
    this.socket.setKeepAlive(true, 10_000);
    this.ready = new Promise((resolve, reject) => {
      const connectTimer = setTimeout(() => {
        const error = new UpstreamError(
          `connect to broker ${address.host}:${address.port} timed out after ${options.connectTimeoutMs} ms`,
        );
        reject(error);
        this.fail(error);
      }, options.connectTimeoutMs);
      this.socket.once(security?.tls ? "secureConnect" : "connect", () => {
        clearTimeout(connectTimer);
        this.connected = true;
        if (!security?.authenticate) {
          resolve();
          return;
        }
        this.authenticate(security.authenticate).then(resolve, (error: Error) => {
          const failure = new UpstreamError(
            `authentication to broker ${address.host}:${address.port} failed: ${error.message}`,
          );
          reject(failure);
          this.fail(failure);
        });
      });
      this.socket.once("close", () => {
        clearTimeout(connectTimer);
        reject(new UpstreamError(`connection to broker ${address.host}:${address.port} closed`));
      });
    });
    this.ready.catch(() => {});
    const counters = options.counters;
    if (counters) {
      this.ready.then(
        () => {
          if (this.closed) return;
          this.countedOpen = true;
          counters.connectAttempted("connected");
        },
        () => {
          if (!this.closedByProxy) counters.connectAttempted("failed");
        },
      );
    }
    this.socket.on("drain", () => this.emit("drain"));
    this.socket.on("error", (error) =>
      this.fail(new UpstreamError(`broker ${address.host}:${address.port}: ${error.message}`)),
    );
    this.socket.on("close", () =>
      this.fail(new UpstreamError(`broker ${address.host}:${address.port} closed the connection`)),
    );
  }

  get isConnected(): boolean {
    return this.connected && !this.closed;
  }

  /** Not closed: connected, or still connecting (sends are queued until connected). */
  get isOpen(): boolean {
    return !this.closed;
  }

  get pendingCount(): number {
    return this.inFlight.length - this.inFlightHead;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  /**
   * Sends a request frame (with its length prefix). The correlation id inside the frame is overwritten with the
   * connection's own. With no handler, no response is expected (Produce acks=0). Returns false when the socket
   * buffer is full; wait for "drain" before sending more.
   */
  send(
    frame: Buffer | Buffer[],
    handler: ResponseHandler | undefined,
    timeoutMs = this.options.requestTimeoutMs,
    onWritten?: () => void,
  ): boolean {
    if (this.closed) {
      handler?.onFailure(
        new UpstreamError(`connection to broker ${this.address.host}:${this.address.port} is closed`),
      );
      return true;
    }
    if (this.waiting) {
      this.waiting.push({ frame, handler, timeoutMs, onWritten });
      return true;
    }
    return this.write(frame, handler, timeoutMs, onWritten);
  }

  private write(
    frame: Buffer | Buffer[],
    handler: ResponseHandler | undefined,
    timeoutMs: number,
    onWritten: (() => void) | undefined,
  ): boolean {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff || 1;
    if (handler) {
      this.inFlight.push({ correlationId, handler, sentAt: Date.now(), timeoutMs });
      this.armTimer();
    }
    if (!Array.isArray(frame)) {
      frame.writeInt32BE(correlationId, 8);
      return this.socket.write(frame, onWritten);
    }
    writeCorrelationId(frame, correlationId);
    let writable = true;
    this.socket.cork();
    for (const chunk of frame) writable = this.socket.write(chunk);
    this.socket.uncork();
    return writable;
  }

  /**
   * Encodes a request, sends it, and decodes the answer. `writable` is false when the socket buffer is full
   * (see `send`); with `expectResponse: false` the response resolves to undefined at once.
   */
  request<K extends ApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestOf<K>,
    options: {
      clientId: string | null;
      expectResponse?: boolean;
      timeoutMs?: number;
      onResponseFrame?: (frame: Buffer) => void;
    },
  ): { writable: boolean; response: Promise<ResponseOf<K>> } {
    const frame = encodeRequestChunks(
      { apiKey, apiVersion, correlationId: 0, clientId: options.clientId },
      body,
    );
    if (options.expectResponse === false) {
      return {
        writable: this.send(frame, undefined),
        response: Promise.resolve(undefined as unknown as ResponseOf<K>),
      };
    }
    let writable = true;
    const response = new Promise<ResponseOf<K>>((resolve, reject) => {
      const handler = decodingHandler(apiKey, apiVersion, resolve, reject, options.onResponseFrame);
      writable = this.send(frame, handler, options.timeoutMs);
    });
    return { writable, response };
  }

  /**
   * Runs `authenticate` ahead of the requests waiting, then writes them; when the broker gives the session a
   * lifetime, authenticates again before it ends (KIP-368), holding new requests until the ones in flight are
   * answered and the new session is set up.
   */
  private async authenticate(authenticate: Authenticate): Promise<void> {
    const channel: AuthenticationChannel = {
      label: `${this.address.host}:${this.address.port}`,
      request: (apiKey, apiVersion, body) => this.requestNow(apiKey, apiVersion, body),
    };
    const lifetimeMs = await authenticate(channel);
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    if (this.closed) return;
    this.socket.cork();
    for (const send of waiting) this.write(send.frame, send.handler, send.timeoutMs, send.onWritten);
    this.socket.uncork();
    if (lifetimeMs > 0) {
      this.reauthenticationTimer = setTimeout(
        () => void this.reauthenticate(authenticate),
        Math.max(1, Math.floor(lifetimeMs * REAUTHENTICATE_AT_SHARE)),
      );
      this.reauthenticationTimer.unref();
    }
  }

  private async reauthenticate(authenticate: Authenticate): Promise<void> {
    if (this.closed) return;
    this.waiting = [];
    while (this.pendingCount > 0 && !this.closed) await new Promise((resolve) => setTimeout(resolve, 5));
    try {
      await this.authenticate(authenticate);
    } catch (error) {
      this.fail(
        new UpstreamError(
          `re-authentication to broker ${this.address.host}:${this.address.port} failed: ${(error as Error).message}`,
        ),
      );
    }
  }

  /** Sends a request ahead of any waiting ones (authentication). */
  private requestNow<K extends ApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestOf<K>,
  ): Promise<ResponseOf<K>> {
    const frame = encodeRequestChunks(
      { apiKey, apiVersion, correlationId: 0, clientId: "kafka-partition-proxy" },
      body,
    );
    return new Promise<ResponseOf<K>>((resolve, reject) => {
      this.write(
        frame,
        decodingHandler(apiKey, apiVersion, resolve, reject),
        this.options.requestTimeoutMs,
        undefined,
      );
    });
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  close(): void {
    this.fail(undefined);
  }

  /**
   * Closes after the requests already written have reached the broker (those with no response, Produce acks=0,
   * included); responses still due are not waited for. The socket is destroyed once the broker closes its side,
   * or after `lingerMs`.
   */
  end(lingerMs: number): void {
    if (this.closed) return;
    if (this.socket.writableLength === 0) {
      this.close();
      return;
    }
    const socket = this.socket;
    socket.end();
    socket.setTimeout(lingerMs, () => socket.destroy());
  }

  private accountReceiving(bytes: number): void {
    const account = this.options.receivingAccount;
    if (!account) return;
    if (this.receivingBytes > 0) account.remove(this.receivingBytes);
    this.receivingBytes = bytes;
    if (bytes > 0) account.add(bytes);
  }

  private onData(chunk: Buffer): void {
    try {
      this.reader.push(chunk, (frame) => {
        if (this.receivingBytes > 0) this.accountReceiving(0);
        this.onFrame(frame);
      });
    } catch (error) {
      this.fail(
        new UpstreamError(
          `broker ${this.address.host}:${this.address.port} sent a bad frame: ${(error as Error).message}`,
        ),
      );
    }
  }

  private offerStream(frameBytes: number, head: Buffer): FrameSink | undefined {
    const entry = this.inFlight[this.inFlightHead];
    if (!entry?.handler.onResponseStart || head.readInt32BE(4) !== entry.correlationId) return undefined;
    const sink = entry.handler.onResponseStart(frameBytes, head);
    if (sink) this.popHead();
    return sink;
  }

  private popHead(): void {
    this.inFlight[this.inFlightHead] = undefined as unknown as InFlight;
    this.inFlightHead++;
    if (this.inFlightHead > 1024 && this.inFlightHead * 2 > this.inFlight.length) {
      this.inFlight.splice(0, this.inFlightHead);
      this.inFlightHead = 0;
    }
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < 8) {
      this.fail(
        new UpstreamError(
          `broker ${this.address.host}:${this.address.port} sent a ${frame.length}-byte frame`,
        ),
      );
      return;
    }
    const entry = this.inFlight[this.inFlightHead];
    const correlationId = frame.readInt32BE(4);
    if (!entry || entry.correlationId !== correlationId) {
      this.fail(
        new UpstreamError(
          `broker ${this.address.host}:${this.address.port} answered correlation id ${correlationId}, expected ${entry?.correlationId ?? "none"}`,
        ),
      );
      return;
    }
    this.popHead();
    entry.handler.onResponse(frame);
  }

  private armTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkTimeouts(), TIMEOUT_CHECK_MS);
    this.timer.unref();
  }

  private checkTimeouts(): void {
    const head = this.inFlight[this.inFlightHead];
    if (!head) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    if (this.options.sharedByClients) {
      this.abandonTimedOut(now);
      if (!head.abandoned || now - head.sentAt <= head.timeoutMs + this.options.requestTimeoutMs) return;
    }
    if (now - head.sentAt > head.timeoutMs) {
      this.fail(
        new UpstreamError(
          `broker ${this.address.host}:${this.address.port} did not answer within ${head.timeoutMs} ms`,
        ),
      );
    }
  }

  /** Fails each request past its own timeout alone; its response is dropped if it ever comes. */
  private abandonTimedOut(now: number): void {
    for (let i = this.inFlightHead; i < this.inFlight.length; i++) {
      const entry = this.inFlight[i]!;
      if (entry.abandoned || now - entry.sentAt <= entry.timeoutMs) continue;
      const handler = entry.handler;
      entry.abandoned = true;
      entry.handler = DROP_RESPONSE;
      handler.onFailure(
        new UpstreamError(
          `broker ${this.address.host}:${this.address.port} did not answer within ${entry.timeoutMs} ms`,
        ),
      );
    }
  }

  private fail(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    if (error === undefined && !this.connected) this.closedByProxy = true;
    if (this.countedOpen) {
      this.countedOpen = false;
      this.options.counters?.closed();
    }
    if (this.timer) clearInterval(this.timer);
    if (this.reauthenticationTimer) clearTimeout(this.reauthenticationTimer);
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    this.accountReceiving(0);
    this.socket.destroy();
    const pending = this.inFlight.slice(this.inFlightHead);
    this.inFlight.length = 0;
    this.inFlightHead = 0;
    const failure = error ?? new UpstreamError("connection closed by the proxy");
    for (const entry of pending) entry.handler.onFailure(failure);
    for (const send of waiting) send.handler?.onFailure(failure);
    this.emit("close", error);
  }
}
