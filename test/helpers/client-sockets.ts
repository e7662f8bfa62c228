/**
 * Raw client sockets for the hardening tests: connections from a chosen loopback address, frames read off a
 * socket, the proxy process's memory and its metrics and log lines.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { FrameReader } from "../../src/net/frame-reader.ts";
import { API_KEYS, ApiKey } from "../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../src/protocol/frame.ts";

export const API_VERSIONS_VERSION = 3;
const apiVersions = API_KEYS.find((api) => api.apiKey === ApiKey.ApiVersions)!;

/** A client socket and every frame it has received so far. */
export interface ClientSocket {
  readonly socket: net.Socket;
  readonly localPort: number;
  readonly frames: Buffer[];
  /** True once the proxy ended or closed the connection. */
  readonly isClosed: boolean;
  /** Resolves when the socket closes (by either side), with the time it did. */
  readonly closed: Promise<number>;
  /** Resolves with the next frame not yet taken, or rejects when the socket closes or the timeout passes. */
  nextFrame(timeoutMs?: number): Promise<Buffer>;
}

/** Connects to 127.0.0.1:`port` from `localAddress` (any 127/8 address reaches loopback on Linux). */
export function connectFrom(
  port: number,
  localAddress = "127.0.0.1",
  timeoutMs = 10_000,
): Promise<ClientSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect from ${localAddress} timed out`));
    }, timeoutMs);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(wrap(socket));
    });
  });
}

function wrap(socket: net.Socket): ClientSocket {
  const frames: Buffer[] = [];
  let taken = 0;
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const reader = new FrameReader(1 << 30, false);
  socket.on("data", (chunk: Buffer) =>
    reader.push(chunk, (frame) => {
      frames.push(Buffer.from(frame));
      wake();
    }),
  );
  socket.on("error", () => {});
  const closedAt = new Promise<number>((resolve) =>
    socket.once("close", () => {
      closed = true;
      wake();
      resolve(Date.now());
    }),
  );
  socket.on("end", () => {
    closed = true;
    wake();
  });
  const client: ClientSocket = {
    socket,
    localPort: socket.localPort ?? 0,
    frames,
    get isClosed() {
      return closed;
    },
    closed: closedAt,
    nextFrame(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => {
          if (taken < frames.length) {
            resolve(frames[taken++]!);
          } else if (closed) {
            reject(new Error("connection closed before a response arrived"));
          } else if (Date.now() >= deadline) {
            reject(new Error(`no response within ${timeoutMs} ms`));
          } else {
            waiters.push(check);
            setTimeout(check, Math.max(1, deadline - Date.now())).unref();
          }
        };
        check();
      });
    },
  };
  return client;
}

export function apiVersionsRequest(correlationId: number, clientId = "hardening-test"): Buffer {
  return encodeRequest(
    { apiKey: ApiKey.ApiVersions, apiVersion: API_VERSIONS_VERSION, correlationId, clientId },
    { clientSoftwareName: "hardening-test", clientSoftwareVersion: "1.0", clusterId: null, nodeId: -1 },
  );
}

/**
 * An ApiVersions request one version newer than the proxy's codec: the proxy answers it itself
 * (UNSUPPORTED_VERSION), so it costs no broker connection.
 */
export function futureApiVersionsRequest(correlationId: number): Buffer {
  const clientId = Buffer.from("hardening-test");
  const frame = Buffer.alloc(4 + 8 + 2 + clientId.length + 1);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt16BE(ApiKey.ApiVersions, 4);
  frame.writeInt16BE(apiVersions.maxVersion + 1, 6);
  frame.writeInt32BE(correlationId, 8);
  frame.writeInt16BE(clientId.length, 12);
  clientId.copy(frame, 14);
  return frame;
}

/** The error code of an ApiVersions v3 response frame (length prefix included). */
export function apiVersionsErrorCode(frame: Buffer): number {
  return (
    decodeResponse(ApiKey.ApiVersions, API_VERSIONS_VERSION, frame.subarray(4)).body as { errorCode: number }
  ).errorCode;
}

export interface ProcessMemory {
  /** Resident set, bytes. */
  rss: number;
  /** Private writable address space (heap, anonymous mappings: what malloc handed out), bytes. */
  data: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), data: kib("VmData") };
}

/** The value of one Prometheus sample from the proxy's /metrics (0 when absent). */
export async function metric(adminPort: number, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const escaped = `${name}${labels ? `{${labels}}` : ""}`.replace(/[{}"[\]().*+?^$|\\]/g, "\\$&");
  const match = new RegExp(`^${escaped}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

/** The proxy's JSON log lines, parsed; other output (the ready banner) is skipped. */
export function logLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {}
  }
  return lines;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
