import { ApiKey, firstVersion, hasField, isFlexibleRequest, requestHeaderVersion } from "./api.ts";
import { Reader } from "./primitives/reader.ts";

/**
 * Reads the few request fields the pass-through path needs straight from a frame that includes its 4-byte
 * length prefix, without decoding the request.
 */

export const REQUEST_HEADER_MIN_BYTES = 4 + 2 + 2 + 4 + 2;

export function frameApiKey(frame: Buffer): number {
  return frame.readInt16BE(4);
}

export function frameApiVersion(frame: Buffer): number {
  return frame.readInt16BE(6);
}

export function frameCorrelationId(frame: Buffer): number {
  return frame.readInt32BE(8);
}

export function frameClientId(frame: Buffer): string | null {
  const length = frame.readInt16BE(12);
  if (length < 0) return null;
  const end = 14 + length;
  if (end > frame.length) return null;
  return frame.toString("utf8", 14, end);
}

function skipUnsignedVarint(frame: Buffer, offset: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (offset >= frame.length) return [-1, -1];
    const byte = frame[offset++]!;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value >>> 0, offset];
    shift += 7;
  }
  return [-1, -1];
}

const FIRST_HEADER_WITH_CLIENT_ID = firstVersion("RequestHeader", "clientId");
/** The header of flexible requests, the one with tagged fields (see `requestHeaderVersion`). */
const FLEXIBLE_HEADER = 2;

/** Offset of the request body, or -1 when the header is malformed. */
export function requestBodyOffset(frame: Buffer, headerVersion: 0 | 1 | 2): number {
  let offset = 12;
  if (headerVersion >= FIRST_HEADER_WITH_CLIENT_ID) {
    if (frame.length < offset + 2) return -1;
    const length = frame.readInt16BE(offset);
    offset += 2 + Math.max(length, 0);
  }
  if (headerVersion === FLEXIBLE_HEADER) {
    let count: number;
    [count, offset] = skipUnsignedVarint(frame, offset);
    for (let i = 0; i < count && offset >= 0; i++) {
      [, offset] = skipUnsignedVarint(frame, offset);
      if (offset < 0) break;
      let size: number;
      [size, offset] = skipUnsignedVarint(frame, offset);
      if (offset < 0) break;
      offset += size;
    }
  }
  return offset >= 0 && offset <= frame.length ? offset : -1;
}

/**
 * Walks a request's body (frame with its length prefix) with `walk`, which answers whether the request needs a
 * closer look. A malformed or truncated frame answers true, leaving it to the full decoder to report.
 */
export function peekRequestBody(
  frame: Buffer,
  apiKey: ApiKey,
  apiVersion: number,
  walk: (body: Reader) => boolean,
): boolean {
  const bodyOffset = requestBodyOffset(frame, requestHeaderVersion(apiKey, apiVersion));
  if (bodyOffset < 0) return true;
  try {
    return walk(new Reader(frame, bodyOffset));
  } catch {
    return true;
  }
}

const FIRST_VERSION_WITH_TRANSACTIONAL_ID = firstVersion("ProduceRequest", "transactionalId");

/** The acks field of a Produce request frame, or undefined when the frame is malformed. */
export function produceAcks(frame: Buffer, apiVersion: number): number | undefined {
  const offset = produceAcksOffset(frame, apiVersion);
  return offset === undefined ? undefined : frame.readInt16BE(offset);
}

/** The timeoutMs field of a Produce request frame (it follows acks), or undefined when the frame is malformed. */
export function produceTimeoutMs(frame: Buffer, apiVersion: number): number | undefined {
  const offset = produceAcksOffset(frame, apiVersion);
  if (offset === undefined || offset + 6 > frame.length) return undefined;
  return frame.readInt32BE(offset + 2);
}

function produceAcksOffset(frame: Buffer, apiVersion: number): number | undefined {
  const flexible = isFlexibleRequest(ApiKey.Produce, apiVersion);
  let offset = requestBodyOffset(frame, requestHeaderVersion(ApiKey.Produce, apiVersion));
  if (offset < 0) return undefined;
  if (apiVersion >= FIRST_VERSION_WITH_TRANSACTIONAL_ID) {
    if (flexible) {
      let length: number;
      [length, offset] = skipUnsignedVarint(frame, offset);
      if (offset < 0) return undefined;
      offset += Math.max(length - 1, 0);
    } else {
      if (offset + 2 > frame.length) return undefined;
      offset += 2 + Math.max(frame.readInt16BE(offset), 0);
    }
  }
  if (offset + 2 > frame.length) return undefined;
  return offset;
}

/** The maxWaitMs field of a Fetch request frame (after the replica id, in versions that have one). */
export function fetchMaxWaitMs(frame: Buffer, apiVersion: number): number | undefined {
  const offset = fetchMaxWaitOffset(frame, apiVersion);
  if (offset === undefined || offset + 4 > frame.length) return undefined;
  return frame.readInt32BE(offset);
}

/** The most bytes the client lets a Fetch response hold: its maxBytes field (after maxWaitMs and minBytes). */
export function fetchMaxBytes(frame: Buffer, apiVersion: number): number | undefined {
  const offset = fetchMaxWaitOffset(frame, apiVersion);
  if (offset === undefined || offset + 12 > frame.length) return undefined;
  return frame.readInt32BE(offset + 8);
}

function fetchMaxWaitOffset(frame: Buffer, apiVersion: number): number | undefined {
  const offset = requestBodyOffset(frame, requestHeaderVersion(ApiKey.Fetch, apiVersion));
  if (offset < 0) return undefined;
  return hasField("FetchRequest", "replicaId", apiVersion) ? offset + 4 : offset;
}
