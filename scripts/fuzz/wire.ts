/**
 * Runs one fuzz case on its own TCP connection to the proxy: writes its chunks with their pauses (or runs its
 * script), reads what comes back, checks the responses the case is owed (in order, each with its correlation
 * id, each decodable by the generated codec), and ends the connection the way the case says. Every case is
 * bounded in time. The response framing here is its own, not the proxy's.
 */
import net from "node:net";
import { decodeResponse } from "../../src/protocol/frame.ts";
import type { ExpectedResponse, FuzzCase, ScriptIo } from "./cases.ts";

export interface CaseOutcome {
  connected: boolean;
  /** The connection's local port: the proxy's logs name the client by it. */
  localPort?: number;
  /** Connect error code (ECONNREFUSED, ...) when the connection could not be made. */
  connectError?: string;
  bytesSent: number;
  framesSent: number;
  responses: number;
  /** The proxy ended or reset the connection before the case ended (or half-closed) it. */
  closedByProxy: boolean;
  /** Owed responses that had not come when the case ended. */
  unanswered: number;
  /** Broken promises: a response with the wrong correlation id, one that does not decode, a bad length. */
  violations: string[];
  /** The bytes written, in order (for crash reports). */
  written: Buffer[];
  ms: number;
}

const HARD_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;
const DRAIN_TIMEOUT_MS = 5_000;
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export async function runCase(
  host: string,
  c: FuzzCase,
  onConnected?: (localPort: number) => void,
): Promise<CaseOutcome> {
  const started = performance.now();
  const outcome: CaseOutcome = {
    connected: false,
    bytesSent: 0,
    framesSent: 0,
    responses: 0,
    closedByProxy: false,
    unanswered: 0,
    violations: [],
    written: [],
    ms: 0,
  };
  const socket = net.connect({ host, port: c.port, noDelay: true });
  let endedByUs = false;
  let closed = false;
  let received: Buffer = Buffer.alloc(0);
  const expected: ExpectedResponse[] = [...(c.expect ?? [])];
  let matched = 0;
  const responseQueue: Buffer[] = [];
  let responseWaiter: (() => void) | undefined;
  let closeWaiter: (() => void) | undefined;
  let framingBroken = false;

  const wake = () => {
    const waiter = responseWaiter;
    responseWaiter = undefined;
    waiter?.();
  };
  const onFrame = (frame: Buffer) => {
    outcome.responses++;
    if (c.script) responseQueue.push(frame);
    const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : undefined;
    if (matched < expected.length) {
      const want = expected[matched]!;
      matched++;
      if (correlationId !== want.correlationId) {
        outcome.violations.push(
          `response ${matched} has correlation id ${correlationId}, expected ${want.correlationId} (api ${want.apiKey} v${want.apiVersion})`,
        );
      } else {
        try {
          decodeResponse(want.apiKey, want.apiVersion, frame);
        } catch (error) {
          outcome.violations.push(
            `the api ${want.apiKey} v${want.apiVersion} response (correlation id ${correlationId}) does not decode: ${(error as Error).message}; ${frame.length} bytes: ${frame.subarray(0, 256).toString("hex")}`,
          );
        }
      }
    } else if (c.expect !== undefined) {
      outcome.violations.push(
        `an unexpected response (correlation id ${correlationId}, ${frame.length} bytes) after the ${expected.length} owed`,
      );
    }
    wake();
  };

  socket.on("data", (chunk: Buffer) => {
    if (framingBroken) return;
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    while (received.length >= 4) {
      const size = received.readInt32BE(0);
      if (size < 0 || size > MAX_RESPONSE_BYTES) {
        outcome.violations.push(`a response with length ${size}`);
        framingBroken = true;
        return;
      }
      if (received.length < 4 + size) break;
      onFrame(received.subarray(4, 4 + size));
      received = received.subarray(4 + size);
    }
  });
  socket.on("end", () => {
    if (!endedByUs) outcome.closedByProxy = true;
  });
  socket.on("error", (error: NodeJS.ErrnoException) => {
    if (!outcome.connected) outcome.connectError = error.code ?? error.message;
    else if (!endedByUs) outcome.closedByProxy = true;
  });
  socket.on("close", () => {
    closed = true;
    wake();
    const waiter = closeWaiter;
    closeWaiter = undefined;
    waiter?.();
  });

  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const hardDeadline = started + HARD_TIMEOUT_MS;

  const connected = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!connected) {
    outcome.connectError ??= "timeout";
    socket.destroy();
    outcome.ms = performance.now() - started;
    return outcome;
  }
  outcome.connected = true;
  outcome.localPort = socket.localPort;
  if (outcome.localPort !== undefined) onConnected?.(outcome.localPort);

  const write = async (bytes: Buffer): Promise<boolean> => {
    if (closed || socket.destroyed) return false;
    outcome.written.push(bytes);
    outcome.bytesSent += bytes.length;
    if (socket.write(bytes)) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS);
      socket.once("drain", () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.once("close", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  };

  if (c.script) {
    const io: ScriptIo = {
      send: async (frame) => {
        outcome.framesSent++;
        return write(frame);
      },
      response: async (timeoutMs) => {
        const deadline = Math.min(performance.now() + timeoutMs, hardDeadline);
        while (responseQueue.length === 0 && !closed && performance.now() < deadline) {
          await new Promise<void>((resolve) => {
            responseWaiter = resolve;
            setTimeout(resolve, Math.max(1, deadline - performance.now()));
          });
        }
        return responseQueue.shift();
      },
      expect: (e) => expected.push(e),
    };
    try {
      await c.script(io);
    } catch (error) {
      outcome.violations.push(`the case's script failed: ${(error as Error).stack ?? error}`);
    }
  } else {
    outcome.framesSent = c.frames;
    for (const chunk of c.chunks) {
      if (chunk.delayMs > 0) await sleep(chunk.delayMs);
      if (!(await write(chunk.bytes))) break;
      if (performance.now() > hardDeadline) break;
    }
  }

  // Ending: wait for owed responses (or the linger time), then close as the case says.
  const lingerUntil = Math.min(performance.now() + c.lingerMs, hardDeadline);
  if (c.ending === "half-close" && !closed) {
    // The proxy closing after our half-close is its answer to it, not a close of its own.
    endedByUs = true;
    socket.end();
  }
  if (c.ending === "linger" || c.ending === "half-close") {
    while (!closed && performance.now() < lingerUntil) {
      if (expected.length > 0 && matched >= expected.length) break;
      await new Promise<void>((resolve) => {
        responseWaiter = resolve;
        closeWaiter = resolve;
        setTimeout(resolve, Math.max(1, lingerUntil - performance.now()));
      });
    }
  }
  endedByUs = true;
  outcome.unanswered = expected.length - matched;
  if (!closed) {
    if (c.ending === "reset") socket.resetAndDestroy();
    else socket.destroy();
  }
  outcome.ms = performance.now() - started;
  return outcome;
}
