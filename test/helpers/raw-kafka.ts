import net from "node:net";
import { FrameReader } from "../../src/net/frame-reader.ts";
import { decodeResponse, encodeRequest } from "../../src/protocol/frame.ts";

interface Waiter {
  correlationId: number;
  apiKey: number;
  apiVersion: number;
  resolve(body: unknown): void;
  reject(error: Error): void;
}

/** Sends one encoded request frame to `address` and returns the response frame's bytes as received. */
export function rawExchange(address: string, request: Buffer): Promise<Buffer> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: host!, port: Number(port) }, () => socket.write(request));
    const reader = new FrameReader(1 << 30, false);
    socket.on("data", (chunk: Buffer) =>
      reader.push(chunk, (frame) => {
        resolve(Buffer.from(frame));
        socket.destroy();
      }),
    );
    socket.on("error", reject);
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no response from ${address}`));
    });
  });
}

/**
 * A sessionless Fetch body (versions 4-12, topics by name) reading one partition from `fetchOffset` without
 * waiting, up to `partitionMaxBytes` (16 MiB in all).
 */
export function onePartitionFetch(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  partitionMaxBytes: number,
) {
  return {
    clusterId: null,
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 16 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}

/** A minimal Kafka protocol client for tests: sends generated-codec requests and decodes responses. */
export class RawKafkaClient {
  readonly socket: net.Socket;
  private readonly waiters: Waiter[] = [];
  private nextCorrelationId = 1;
  readonly closed: Promise<void>;
  readonly unexpected: number[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    const reader = new FrameReader(1 << 30, false);
    socket.on("data", (chunk: Buffer) =>
      reader.push(chunk, (frame) => {
        const correlationId = frame.readInt32BE(4);
        const waiter = this.waiters.shift();
        if (!waiter || waiter.correlationId !== correlationId) {
          this.unexpected.push(correlationId);
          waiter?.reject(new Error(`expected correlation id ${waiter.correlationId}, got ${correlationId}`));
          return;
        }
        try {
          waiter.resolve(decodeResponse(waiter.apiKey, waiter.apiVersion, frame.subarray(4)).body);
        } catch (error) {
          waiter.reject(error as Error);
        }
      }),
    );
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.once("close", () => {
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error("connection closed"));
    });
  }

  static connect(address: string, timeoutMs = 5000): Promise<RawKafkaClient> {
    const [host, port] = address.split(":");
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host!, port: Number(port) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new RawKafkaClient(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: generated message bodies
  request(apiKey: number, apiVersion: number, body: unknown, timeoutMs = 10_000): Promise<any> {
    const correlationId = this.nextCorrelationId++;
    this.socket.write(encodeRequest({ apiKey, apiVersion, correlationId, clientId: "raw-test" }, body));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no response to api ${apiKey} v${apiVersion}`)),
        timeoutMs,
      );
      this.waiters.push({
        correlationId,
        apiKey,
        apiVersion,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  /** Sends a request that gets no response (Produce acks=0). */
  send(apiKey: number, apiVersion: number, body: unknown): void {
    this.socket.write(
      encodeRequest(
        { apiKey, apiVersion, correlationId: this.nextCorrelationId++, clientId: "raw-test" },
        body,
      ),
    );
  }

  close(): void {
    this.socket.destroy();
  }
}
