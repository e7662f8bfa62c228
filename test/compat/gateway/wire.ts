import net from "node:net";
import { ApiKey } from "../../../src/protocol/api.ts";

/** A hand-encoded Kafka client: just enough wire format (ApiVersions v0, Metadata v1) to probe the gateway. */

export class WireError extends Error {
  override name = "WireError";
}

function requestFrame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  const clientId = Buffer.from("compat-wire");
  const header = Buffer.alloc(10 + clientId.length);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  clientId.copy(header, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

export function apiVersionsRequest(correlationId: number): Buffer {
  return requestFrame(ApiKey.ApiVersions, 0, correlationId, Buffer.alloc(0));
}

/** Metadata v1 for all topics (a null topic array). */
export function metadataRequest(correlationId: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeInt32BE(-1);
  return requestFrame(ApiKey.Metadata, 1, correlationId, body);
}

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

/** Reads the broker list at the start of a Metadata v1 response body. */
export function metadataBrokers(body: Buffer): BrokerAddress[] {
  let at = 0;
  const count = body.readInt32BE(at);
  at += 4;
  const brokers: BrokerAddress[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = body.readInt32BE(at);
    const hostLength = body.readInt16BE(at + 4);
    const host = body.toString("utf8", at + 6, at + 6 + hostLength);
    at += 6 + hostLength;
    const port = body.readInt32BE(at);
    const rackLength = body.readInt16BE(at + 4);
    at += 6 + Math.max(rackLength, 0);
    brokers.push({ nodeId, host, port });
  }
  return brokers;
}

/** ApiVersions v0 response body: error code, then (key, min, max) triples. */
export function apiVersionsKeys(body: Buffer): { errorCode: number; keys: number[] } {
  const errorCode = body.readInt16BE(0);
  const count = body.readInt32BE(2);
  const keys: number[] = [];
  for (let i = 0; i < count; i++) keys.push(body.readInt16BE(6 + i * 6));
  return { errorCode, keys };
}

/** One TCP connection speaking length-prefixed frames, one request at a time. */
export class WireConnection {
  readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | undefined;
  private closedWith: Error | undefined;
  private correlationId = 1;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new WireError("connection closed")));
  }

  static connect(address: string, timeoutMs = 10_000): Promise<WireConnection> {
    const [host, port] = address.split(":");
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: host!, port: Number(port) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new WireError(`connect to ${address} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new WireConnection(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Sends one request frame built by `build(correlationId)` and returns the response body after the header. */
  request(build: (correlationId: number) => Buffer, timeoutMs = 10_000): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const correlationId = this.correlationId++;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new WireError(`no response to correlation id ${correlationId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (frame) => {
          clearTimeout(timer);
          const echoed = frame.readInt32BE(0);
          if (echoed !== correlationId)
            reject(new WireError(`correlation id ${echoed}, expected ${correlationId}`));
          else resolve(frame.subarray(4));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.socket.write(build(correlationId));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve(frame);
    }
  }

  private fail(error: Error): void {
    this.closedWith ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }
}

/** Writes raw bytes on a fresh connection and reports whether the peer closed it within `timeoutMs`. */
export function sendRaw(
  address: string,
  bytes: Buffer,
  options: { endAfterWrite?: boolean; timeoutMs?: number } = {},
): Promise<{ closedByPeer: boolean; received: number }> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: host!, port: Number(port) });
    let received = 0;
    let settled = false;
    const finish = (closedByPeer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByPeer, received });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 10_000);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNRESET" || error.code === "EPIPE") finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.once("connect", () => {
      if (options.endAfterWrite) socket.end(bytes);
      else socket.write(bytes);
    });
  });
}
