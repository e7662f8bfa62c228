/**
 * Whole-frame conveniences over the generated codecs. Frames handed to the decoders exclude the 4-byte
 * length prefix; the encoders produce length-prefixed frames ready for the socket.
 */
import { createRequire } from "node:module";
import { KafkaProtocolError } from "./errors.ts";
import {
  apiInfo,
  requestHeaderVersion,
  responseHeaderVersion,
  usesRequestHeaderV0,
} from "./generated/api-keys.ts";
import { CODEC_MODULES, type CodecModule } from "./generated/codec-modules.ts";
import {
  decodeRequestHeader,
  encodeRequestHeader,
  type RequestHeader,
} from "./generated/messages/request-header.ts";
import {
  decodeResponseHeader,
  encodeResponseHeader,
  type ResponseHeader,
} from "./generated/messages/response-header.ts";
import type { MessageCodec } from "./message-codec.ts";
import { Reader } from "./primitives/reader.ts";
import { readTaggedFields } from "./primitives/tagged.ts";
import { Writer } from "./primitives/writer.ts";

export interface PeekedRequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** 0, 1 or 2; for an API key the codec does not know, 1 is assumed (the client id is still read). */
  headerVersion: 0 | 1 | 2;
  /** Offset of the request body in the frame. */
  bodyOffset: number;
  /** Whether the codec knows the API key (API_KEYS). */
  knownApi: boolean;
}

/** Reads only the request header of `frame` (no length prefix). */
export function peekRequestHeader(frame: Buffer): PeekedRequestHeader {
  const r = new Reader(frame);
  let headerVersion: 0 | 1 | 2 = 1;
  let apiKey = -1;
  let apiVersion = -1;
  try {
    apiKey = r.int16();
    apiVersion = r.int16();
    const correlationId = r.int32();
    const knownApi = apiInfo(apiKey) !== undefined;
    if (knownApi || usesRequestHeaderV0(apiKey, apiVersion)) {
      headerVersion = requestHeaderVersion(apiKey, apiVersion);
    }
    const clientId = headerVersion >= 1 ? r.nullableString() : "";
    if (headerVersion === 2) readTaggedFields(r);
    return { apiKey, apiVersion, correlationId, clientId, headerVersion, bodyOffset: r.offset, knownApi };
  } catch (error) {
    throw asHeaderError(error, headerVersion);
  }
}

function asHeaderError(error: unknown, headerVersion: number): KafkaProtocolError {
  const e =
    error instanceof KafkaProtocolError ? error : new KafkaProtocolError("INVALID_VALUE", String(error));
  return e.inMessage("RequestHeader", headerVersion);
}

export interface DecodedRequest<T = unknown> {
  header: RequestHeader;
  headerVersion: 0 | 1 | 2;
  apiKey: number;
  apiVersion: number;
  body: T;
}

/**
 * Message modules are loaded on first use (synchronous `require` of the ES module), so a process that
 * decodes a handful of APIs does not parse all of them at startup. Same codecs as REQUEST_CODECS.
 */
const requireModule = createRequire(import.meta.url);
const MODULE_EXTENSION = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const loadedCodecs: [(MessageCodec | undefined)[], (MessageCodec | undefined)[]] = [[], []];

function loadCodec(kind: 0 | 1, apiKey: number): MessageCodec | undefined {
  const cached = loadedCodecs[kind][apiKey];
  if (cached !== undefined) return cached;
  const modules = CODEC_MODULES[apiKey];
  if (modules === undefined) return undefined;
  const spec: CodecModule = kind === 0 ? modules.request : modules.response;
  const exports = requireModule(`./generated/messages/${spec.module}${MODULE_EXTENSION}`) as Record<
    string,
    MessageCodec["decode"] & MessageCodec["encode"]
  >;
  const codec: MessageCodec = {
    label: spec.label,
    minVersion: modules.minVersion,
    maxVersion: modules.maxVersion,
    decode: exports[`decode${spec.name}`],
    encode: exports[`encode${spec.name}`],
  };
  loadedCodecs[kind][apiKey] = codec;
  return codec;
}

/** The request codec for an API key and version; UNKNOWN_API or UNSUPPORTED_VERSION otherwise. */
export function requestCodec(apiKey: number, apiVersion: number): MessageCodec {
  return checkedCodec(loadCodec(0, apiKey), "request", apiKey, apiVersion);
}

/** The response codec for an API key and version; UNKNOWN_API or UNSUPPORTED_VERSION otherwise. */
export function responseCodec(apiKey: number, apiVersion: number): MessageCodec {
  return checkedCodec(loadCodec(1, apiKey), "response", apiKey, apiVersion);
}

function checkedCodec(
  codec: MessageCodec | undefined,
  kind: string,
  apiKey: number,
  apiVersion: number,
): MessageCodec {
  if (codec === undefined) {
    throw new KafkaProtocolError("UNKNOWN_API", `unknown API key ${apiKey} (${kind})`);
  }
  if (apiVersion < codec.minVersion || apiVersion > codec.maxVersion) {
    throw new KafkaProtocolError(
      "UNSUPPORTED_VERSION",
      `version ${apiVersion} is not supported (supported: ${codec.minVersion}-${codec.maxVersion})`,
      codec.label,
      apiVersion,
    );
  }
  return codec;
}

/**
 * Most array elements a request may hold in all, where the decode is told to limit them: far above any real
 * client's request (an OffsetCommit of 100,000 partitions holds ~100,000), far below what exhausts the heap.
 */
export const REQUEST_ELEMENT_LIMIT = 1 << 18;

/**
 * Decodes a request a client sent (no length prefix), as a broker does: at most REQUEST_ELEMENT_LIMIT array
 * elements, and bytes after the request's last field are ignored (librdkafka sends a few after some Metadata
 * requests, and brokers accept them). What the proxy passes on is encoded again from what it decoded.
 */
export function decodeClientRequest(frame: Buffer): DecodedRequest {
  return decodeRequest(frame, REQUEST_ELEMENT_LIMIT, true);
}

/**
 * Decodes a whole request frame (no length prefix); every byte must belong to the request unless
 * `ignoreTrailingBytes`. `elementLimit` caps the array elements decoded (see `REQUEST_ELEMENT_LIMIT`).
 */
export function decodeRequest(
  frame: Buffer,
  elementLimit = Number.POSITIVE_INFINITY,
  ignoreTrailingBytes = false,
): DecodedRequest {
  if (frame.length < 4) {
    throw new KafkaProtocolError(
      "TRUNCATED",
      `request frame of ${frame.length} bytes has no header`,
      "RequestHeader",
    );
  }
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const codec = requestCodec(apiKey, apiVersion);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const r = new Reader(frame).limitElements(elementLimit);
  const header = decodeRequestHeader(r, headerVersion);
  const body = codec.decode(r, apiVersion);
  if (!ignoreTrailingBytes) expectEnd(r, codec.label, apiVersion);
  return { header, headerVersion, apiKey, apiVersion, body };
}

export interface DecodedResponse<T = unknown> {
  header: ResponseHeader;
  correlationId: number;
  body: T;
}

/** Decodes a whole response frame (no length prefix) of the given request's API key and version. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): DecodedResponse {
  const codec = responseCodec(apiKey, apiVersion);
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
  const body = codec.decode(r, apiVersion);
  expectEnd(r, codec.label, apiVersion);
  return { header, correlationId: header.correlationId, body };
}

function expectEnd(r: Reader, label: string, version: number): void {
  if (r.remaining() !== 0) {
    throw new KafkaProtocolError(
      "TRAILING_BYTES",
      `${r.remaining()} bytes left after the message`,
      label,
      version,
    );
  }
}

/** The correlation id of a response frame (no length prefix). */
export function peekResponseCorrelationId(frame: Buffer): number {
  if (frame.length < 4) throw new KafkaProtocolError("TRUNCATED", "response frame shorter than 4 bytes");
  return frame.readInt32BE(0);
}

export interface RequestHeaderFields {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Writes a length-prefixed request frame into `w`. */
export function writeRequestFrame(w: Writer, header: RequestHeaderFields, body: unknown): void {
  const codec = requestCodec(header.apiKey, header.apiVersion);
  const mark = w.reserveInt32();
  encodeRequestHeader(w, requestHeaderVersion(header.apiKey, header.apiVersion), {
    requestApiKey: header.apiKey,
    requestApiVersion: header.apiVersion,
    correlationId: header.correlationId,
    clientId: header.clientId,
  });
  codec.encode(w, header.apiVersion, body);
  w.fillLength(mark);
}

/** Writes a length-prefixed response frame into `w`. */
export function writeResponseFrame(
  w: Writer,
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
): void {
  const codec = responseCodec(apiKey, apiVersion);
  const mark = w.reserveInt32();
  encodeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), { correlationId });
  codec.encode(w, apiVersion, body);
  w.fillLength(mark);
}

/**
 * Writers for the one-shot helpers. Finished output is never overwritten (the writer's slabs only move
 * forward), so one shared writer serves every call.
 */
const shared = new Writer();

function oneShot<T>(write: (w: Writer) => void, finish: (w: Writer) => T): T {
  try {
    write(shared);
  } catch (error) {
    shared.reset();
    throw error;
  }
  return finish(shared);
}

/** A complete length-prefixed request frame as one Buffer. */
export function encodeRequest(header: RequestHeaderFields, body: unknown): Buffer {
  return oneShot(
    (w) => writeRequestFrame(w, header, body),
    (w) => w.finish(),
  );
}

/** A complete length-prefixed request frame as chunks; large record Buffers are referenced, not copied. */
export function encodeRequestChunks(header: RequestHeaderFields, body: unknown): Buffer[] {
  return oneShot(
    (w) => writeRequestFrame(w, header, body),
    (w) => w.finishChunks(),
  );
}

/** A complete length-prefixed response frame as one Buffer. */
export function encodeResponse(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
): Buffer {
  return oneShot(
    (w) => writeResponseFrame(w, apiKey, apiVersion, correlationId, body),
    (w) => w.finish(),
  );
}

/** A complete length-prefixed response frame as chunks; large record Buffers are referenced, not copied. */
export function encodeResponseChunks(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
): Buffer[] {
  return oneShot(
    (w) => writeResponseFrame(w, apiKey, apiVersion, correlationId, body),
    (w) => w.finishChunks(),
  );
}
