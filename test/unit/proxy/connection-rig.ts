/**
 * Real client connections over loopback: a test client, a proxy listener whose accepted sockets become
 * `ClientConnection`s over a given feature chain, and a fake broker that records the frames it receives and
 * answers them in order.
 */
import net from "node:net";
import { ProxyMetrics } from "../../../src/admin/metrics.ts";
import type { Feature } from "../../../src/feature-api/feature.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { FrameReader } from "../../../src/net/frame-reader.ts";
import { type Listener, listenPlain } from "../../../src/net/listener.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../src/protocol/api.ts";
import { decodeRequest, encodeRequest, encodeResponse } from "../../../src/protocol/frame.ts";
import { Chain } from "../../../src/proxy/chain.ts";
import {
  ClientConnection,
  type ClientConnectionOptions,
} from "../../../src/proxy/connection/client-connection.ts";

const MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const CLIENT_ID = "rig-client";
export const API_VERSIONS_VERSION = 3;
export const METADATA_VERSION = 12;

/** A request as the fake broker received it. */
export interface BrokerRequest {
  readonly apiKey: ApiKey;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** The whole frame, length prefix included, copied. */
  readonly frame: Buffer;
}

/**
 * What the broker answers: a frame, or pieces of one frame written apart (`pieces`, `gapMs` between them),
 * or nothing.
 */
export type BrokerAnswer = Buffer | { pieces: Buffer[]; gapMs: number } | undefined;
export type Responder = (request: BrokerRequest) => BrokerAnswer | Promise<BrokerAnswer>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FakeBroker {
  readonly received: BrokerRequest[] = [];
  /** Every response frame written, whole. */
  readonly answered: Buffer[] = [];
  accepted = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly responder: Responder;

  private constructor(responder: Responder) {
    this.responder = responder;
    this.server = net.createServer((socket) => this.serve(socket));
  }

  static async start(responder: Responder = defaultResponder): Promise<FakeBroker> {
    const broker = new FakeBroker(responder);
    await new Promise<void>((resolve) => broker.server.listen(0, "127.0.0.1", resolve));
    return broker;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private serve(socket: net.Socket): void {
    this.accepted++;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    const reader = new FrameReader(MAX_FRAME_BYTES, false);
    let answering = Promise.resolve();
    socket.on("data", (chunk) => {
      reader.push(chunk, (frame) => {
        const request: BrokerRequest = {
          apiKey: frame.readInt16BE(4) as ApiKey,
          apiVersion: frame.readInt16BE(6),
          correlationId: frame.readInt32BE(8),
          frame: Buffer.from(frame),
        };
        this.received.push(request);
        answering = answering.then(async () => {
          const answer = await this.responder(request);
          if (answer === undefined || socket.destroyed) return;
          if (Buffer.isBuffer(answer)) {
            this.answered.push(answer);
            socket.write(answer);
            return;
          }
          this.answered.push(Buffer.concat(answer.pieces));
          for (const [i, piece] of answer.pieces.entries()) {
            if (i > 0) await sleep(answer.gapMs);
            if (socket.destroyed) return;
            socket.write(piece);
          }
        });
      });
    });
  }
}

export function apiVersionsRequest(correlationId: number): Buffer {
  return encodeRequest(
    { apiKey: ApiKey.ApiVersions, apiVersion: API_VERSIONS_VERSION, correlationId, clientId: CLIENT_ID },
    { clientSoftwareName: "rig", clientSoftwareVersion: "1.0", clusterId: null, nodeId: -1 },
  );
}

/** An ApiVersions response naming `maxVersion` for Metadata, so responses can be told apart. */
export function apiVersionsResponse(correlationId: number, maxVersion = 13): Buffer {
  return encodeResponse(ApiKey.ApiVersions, API_VERSIONS_VERSION, correlationId, {
    errorCode: ErrorCode.NONE,
    apiKeys: [{ apiKey: ApiKey.Metadata, minVersion: 0, maxVersion }],
    throttleTimeMs: 0,
  });
}

export function metadataRequest(correlationId: number, ...topics: string[]): Buffer {
  const body: RequestOf<typeof ApiKey.Metadata> = {
    topics: topics.map((name) => ({ topicId: "0".repeat(32), name })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
  return encodeRequest(
    { apiKey: ApiKey.Metadata, apiVersion: METADATA_VERSION, correlationId, clientId: CLIENT_ID },
    body,
  );
}

export function metadataResponseBody(...topics: string[]): ResponseOf<typeof ApiKey.Metadata> {
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: 1, host: "broker-1", port: 9092, rack: null }],
    clusterId: "upstream",
    controllerId: 1,
    topics: topics.map((name) => ({
      errorCode: ErrorCode.NONE,
      name,
      topicId: "0".repeat(32),
      isInternal: false,
      partitions: [],
      topicAuthorizedOperations: 0,
    })),
    clusterAuthorizedOperations: -2147483648,
    errorCode: ErrorCode.NONE,
  };
}

export function produceRequest(correlationId: number, acks: number, version = 9): Buffer {
  const body: RequestOf<typeof ApiKey.Produce> = {
    transactionalId: null,
    acks,
    timeoutMs: 1000,
    topicData: [
      { name: "t", topicId: "0".repeat(32), partitionData: [{ index: 0, records: Buffer.from("records") }] },
    ],
  };
  return encodeRequest(
    { apiKey: ApiKey.Produce, apiVersion: version, correlationId, clientId: CLIENT_ID },
    body,
  );
}

export function fetchRequest(correlationId: number, version: number): Buffer {
  const body: RequestOf<typeof ApiKey.Fetch> = {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 64 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: "t",
        topicId: "1".repeat(32),
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: 0n,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 64 << 20,
            replicaDirectoryId: "0".repeat(32),
            highWatermark: -1n,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
  return encodeRequest(
    { apiKey: ApiKey.Fetch, apiVersion: version, correlationId, clientId: CLIENT_ID },
    body,
  );
}

/** Bytes that differ from their neighbours, so a misplaced or dropped chunk shows. */
export function patterned(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

export function fetchResponseBody(
  records: Buffer,
  nodeEndpoints: ResponseOf<typeof ApiKey.Fetch>["nodeEndpoints"] = [],
): ResponseOf<typeof ApiKey.Fetch> {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [
      {
        topic: "t",
        topicId: "1".repeat(32),
        partitions: [
          {
            partitionIndex: 0,
            errorCode: ErrorCode.NONE,
            highWatermark: 10n,
            lastStableOffset: 10n,
            logStartOffset: 0n,
            divergingEpoch: { epoch: -1, endOffset: -1n },
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: null,
            preferredReadReplica: -1,
            records,
          },
        ],
      },
    ],
    nodeEndpoints,
  };
}

/** Answers ApiVersions, and Metadata with the topics asked for; nothing else. */
export function defaultResponder(request: BrokerRequest): BrokerAnswer {
  if (request.apiKey === ApiKey.ApiVersions) return apiVersionsResponse(request.correlationId);
  if (request.apiKey === ApiKey.Metadata) {
    const body = decodeRequest(request.frame.subarray(4)).body as RequestOf<typeof ApiKey.Metadata>;
    const names = (body.topics ?? []).map((topic) => topic.name ?? "");
    return encodeResponse(
      ApiKey.Metadata,
      request.apiVersion,
      request.correlationId,
      metadataResponseBody(...names),
    );
  }
  return undefined;
}

/** A client socket that splits what it reads into frames. */
export class TestClient {
  readonly socket: net.Socket;
  readonly frames: Buffer[] = [];
  readonly closed: Promise<void>;
  private waiter: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const reader = new FrameReader(MAX_FRAME_BYTES, false);
    socket.on("data", (chunk) => {
      reader.push(chunk, (frame) => this.frames.push(Buffer.from(frame)));
      this.waiter?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.closed.then(() => this.waiter?.());
  }

  static async connect(port: number): Promise<TestClient> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new TestClient(socket);
  }

  send(...frames: Buffer[]): void {
    for (const frame of frames) this.socket.write(frame);
  }

  /** Resolves with the first `count` frames once they have arrived; rejects on close or timeout. */
  async receive(count: number, timeoutMs = 5000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count) {
      if (this.socket.destroyed) {
        throw new Error(`connection closed after ${this.frames.length} of ${count} frames`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.frames.length} of ${count} frames within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.frames.slice(0, count);
  }

  /** Whether the proxy closes the connection within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    return Promise.race([this.closed.then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface ProxyRig {
  readonly port: number;
  readonly chain: Chain;
  readonly metrics: ProxyMetrics;
  readonly broker: FakeBroker;
  /** Every connection accepted, in order. */
  readonly connections: ClientConnection[];
  /** The ids of connections that reported themselves closed, in order. */
  readonly closed: number[];
  connect(): Promise<TestClient>;
  /** The value of a counter or gauge sample with label api="<name>", 0 when absent. */
  sample(metric: string, api: string): Promise<number>;
  stop(): void;
}

/** A proxy listener in front of `broker`, whose connections run `features`. */
export async function startProxy(
  features: readonly Feature[],
  broker: FakeBroker,
  overrides: Partial<ClientConnectionOptions> = {},
): Promise<ProxyRig> {
  const chain = new Chain(features);
  const metrics = new ProxyMetrics((apiKey) => chain.apiName(apiKey));
  const connections: ClientConnection[] = [];
  const closed: number[] = [];
  const clients: TestClient[] = [];
  let nextId = 1;
  const listener: Listener = await listenPlain({
    host: "127.0.0.1",
    port: 0,
    label: "bootstrap",
    maxConnections: 100,
    log: silentLogger,
    onConnection: (accepted) => {
      connections.push(
        new ClientConnection(accepted, {
          id: nextId++,
          listener: "bootstrap",
          nodeId: undefined,
          maxFrameBytes: MAX_FRAME_BYTES,
          maxInFlightBytes: 8 * 1024 * 1024,
          maxInFlightRequests: 256,
          connectTimeoutMs: 5000,
          requestTimeoutMs: 30_000,
          log: silentLogger,
          chain,
          metrics,
          upstreams: {
            addressFor: () => ({ host: "127.0.0.1", port: broker.port }),
            securityFor: () => undefined,
            apiVersionsLimit: () => undefined,
            requestShared: () => Promise.reject(new Error("no shared connections in this test")),
          },
          onClosed: (connection) => closed.push(connection.id),
          ...overrides,
        }),
      );
    },
  });
  return {
    port: listener.port,
    chain,
    metrics,
    broker,
    connections,
    closed,
    connect: async () => {
      const client = await TestClient.connect(listener.port);
      clients.push(client);
      return client;
    },
    sample: async (metric, api) => {
      const text = await metrics.registry.metrics();
      const prefix = `${metric}{api="${api}"} `;
      const line = text.split("\n").find((l) => l.startsWith(prefix));
      return line === undefined ? 0 : Number(line.slice(prefix.length));
    },
    stop: () => {
      for (const client of clients) client.close();
      for (const connection of connections) connection.close(undefined);
      listener.close();
      broker.close();
    },
  };
}

/** Polls until `probe` holds; throws after `timeoutMs`. */
export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/** A promise with its resolve function, for features that hold a request until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A copy of the request frame with its correlation id replaced. */
export function requestWithCorrelationId(frame: Buffer, correlationId: number): Buffer {
  const copy = Buffer.from(frame);
  copy.writeInt32BE(correlationId, 8);
  return copy;
}

/** A copy of the response frame with its correlation id replaced. */
export function responseWithCorrelationId(frame: Buffer, correlationId: number): Buffer {
  const copy = Buffer.from(frame);
  copy.writeInt32BE(correlationId, 4);
  return copy;
}

export { sleep };
