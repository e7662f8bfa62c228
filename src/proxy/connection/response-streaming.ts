import type net from "node:net";
import type { ExchangeInfo } from "../../feature-api/feature.ts";
import { framePool } from "../../net/frame-pool.ts";
import type { FrameSink } from "../../net/frame-reader.ts";
import { writeCopy } from "../../net/write-copies.ts";
import { FetchResponseTailFinder } from "../../protocol/fetch-response-tail.ts";
import type { Chain, Link } from "../chain.ts";

/** What a streamed response needs from its connection. */
export interface StreamTarget {
  readonly socket: net.Socket;
  readonly isClosed: boolean;
  /** The client's socket is full: stop reading the broker until it drains. */
  pauseUpstream(): void;
  /** The response could not be passed on: close the connection, saying why. */
  fail(reason: string): void;
  /** The last byte has been handed to the socket; `frame` is the whole response when it was assembled in one buffer. */
  sent(frame?: Buffer): void;
}

/**
 * Cut-through: a large response that no feature needs to see goes to the client chunk by chunk as it arrives,
 * instead of being collected first.
 */
export function streamUnchanged(target: StreamTarget, frameBytes: number): FrameSink {
  const socket = target.socket;
  let assembled: Buffer | undefined;
  let unwritten = frameBytes;
  return {
    assembling: (frame) => {
      assembled = frame;
    },
    write: (bytes, borrowed) => {
      if (target.isClosed) return;
      unwritten -= bytes.length;
      let writable: boolean;
      if (borrowed) writable = writeCopy(socket, bytes);
      else if (unwritten === 0 && assembled) {
        const frame = assembled;
        writable = socket.write(bytes, () => framePool.release(frame));
      } else writable = socket.write(bytes);
      if (!writable) target.pauseUpstream();
    },
    end: (frame) => target.sent(frame),
  };
}

/**
 * Streams a response whose features change only its tail: the bytes before the tail pass on as they arrive,
 * and the tail, rewritten at its size, follows the last byte.
 */
export function streamUpToTail(
  target: StreamTarget,
  chain: Chain,
  links: readonly Link[],
  info: ExchangeInfo,
): FrameSink {
  const socket = target.socket;
  const finder = new FetchResponseTailFinder(info.apiVersion);
  let assembled: Buffer | undefined;
  let arrived = 0;
  let sent = 0;
  const fail = (reason: string) => {
    assembled = undefined;
    target.fail(`malformed ${chain.apiName(info.apiKey)} response from upstream: ${reason}`);
  };
  const sendUpTo = (end: number, onWritten?: () => void) => {
    if (end > sent || onWritten) {
      if (!socket.write(assembled!.subarray(sent, end), onWritten)) target.pauseUpstream();
      sent = end;
    }
  };
  return {
    assembling: (frame) => {
      assembled = frame;
    },
    write: (bytes) => {
      if (target.isClosed || !assembled) return;
      arrived += bytes.length;
      try {
        sendUpTo(finder.advance(assembled, arrived));
      } catch (error) {
        fail((error as Error).message);
      }
    },
    end: () => {
      if (target.isClosed || !assembled) return;
      const frame = assembled;
      try {
        if (finder.tailStart < 0) throw new Error(`its ${frame.length} bytes end before its tagged fields`);
        sendUpTo(finder.tailStart);
        const rewritten = chain.rewriteTail(links, info, frame.subarray(finder.tailStart));
        if (rewritten) rewritten.copy(frame, finder.tailStart);
        sendUpTo(frame.length, () => framePool.release(frame));
      } catch (error) {
        fail((error as Error).message);
        return;
      }
      target.sent(frame);
    },
  };
}
