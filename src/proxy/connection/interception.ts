import type { ExchangeInfo } from "../../feature-api/feature.ts";
import { ApiKey } from "../../protocol/api.ts";
import { decodeClientRequest, encodeResponseChunks } from "../../protocol/frame.ts";
import type { Chain, ChainUpstream, ExchangeScope, Link } from "../chain.ts";
import { AfterReply, type ResponseQueue } from "./response-queue.ts";

/** What an intercepted request needs from its connection. */
export interface InterceptionTarget {
  readonly chain: Chain;
  readonly queue: ResponseQueue;
  readonly upstream: ChainUpstream;
  readonly isClosed: boolean;
  countResponse(apiKey: number, bytes: number): void;
  /** A decoded response's top-level error code (anything not a number is no error code). */
  countError?(apiKey: number, errorCode: unknown): void;
  /** The most bytes the request lets its response hold (see `ResponseQueue.reserve`). */
  promisedBytes(info: ExchangeInfo, frame: Buffer): number;
  /** Writes the responses whose turn has come. */
  flush(): void;
  fail(reason: string, level: "info" | "warn"): void;
}

function producesNoResponse(info: ExchangeInfo, request: unknown): boolean {
  return info.apiKey === ApiKey.Produce && (request as { acks: number }).acks === 0;
}

/**
 * Decodes a client request that some feature takes and runs it through the chain; the response takes the
 * request's place in the connection's order. Returns false when the frame could not be decoded (the connection
 * is then closed).
 */
export function intercept(
  target: InterceptionTarget,
  links: readonly Link[],
  info: ExchangeInfo,
  frame: Buffer,
  correlationId: number,
  arrivedAt: number,
): boolean {
  const chain = target.chain;
  let request: unknown;
  try {
    request = decodeClientRequest(frame.subarray(4)).body;
  } catch (error) {
    target.fail(
      `malformed ${chain.apiName(info.apiKey)} v${info.apiVersion} request: ${(error as Error).message}`,
      "warn",
    );
    return false;
  }
  const afterReply = new AfterReply();
  const scope: ExchangeScope = {
    info,
    correlationId,
    upstream: target.upstream,
    releaseAfterReply: (buffer) => afterReply.releases.push(buffer),
    discardAfterReply: (buffer) => afterReply.discards.push(buffer),
  };
  const slot = producesNoResponse(info, request)
    ? undefined
    : target.queue.reserve(info.apiKey, arrivedAt, target.promisedBytes(info, frame));
  const options = slot ? undefined : { expectResponse: false };
  chain.run(scope, info, request as never, options, undefined, links).then(
    (response) => {
      if (!slot || target.isClosed) return;
      let chunks: Buffer[];
      try {
        chunks = encodeResponseChunks(info.apiKey, info.apiVersion, correlationId, response);
      } catch (error) {
        target.fail(
          `cannot encode the ${chain.apiName(info.apiKey)} response: ${(error as Error).message}`,
          "warn",
        );
        return;
      }
      let bytes = 0;
      for (const chunk of chunks) bytes += chunk.length;
      target.countResponse(info.apiKey, bytes);
      target.countError?.(info.apiKey, (response as { errorCode?: unknown }).errorCode);
      chain.observeResponse(info, response);
      if (!afterReply.isEmpty) slot.afterWrite = afterReply;
      target.queue.fill(slot, chunks, bytes);
      target.flush();
    },
    (error: Error) => target.fail(`${chain.apiName(info.apiKey)}: ${error.message}`, "info"),
  );
  return true;
}
