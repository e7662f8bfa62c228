import { requestHeaderVersion, responseHeaderVersion } from "../protocol/generated/api-keys.ts";
import {
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  REQUEST_CODECS,
  RESPONSE_CODECS,
} from "../protocol/generated/index.ts";
import { Reader } from "../protocol/primitives/reader.ts";
import { Writer } from "../protocol/primitives/writer.ts";

/** Encodes a complete request frame, length prefix included. */
export function buildRequestFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  // biome-ignore lint/suspicious/noExplicitAny: generated request body for apiKey
  body: any,
): Buffer {
  const writer = new Writer();
  writer.int32(0);
  encodeRequestHeader(writer, requestHeaderVersion(apiKey, apiVersion), {
    requestApiKey: apiKey,
    requestApiVersion: apiVersion,
    correlationId,
    clientId,
  });
  REQUEST_CODECS[apiKey]!.encode(writer, apiVersion, body);
  return withLengthPrefix(writer.finish());
}

/** Encodes a complete response frame, length prefix included. */
export function buildResponseFrame(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  // biome-ignore lint/suspicious/noExplicitAny: generated response body for apiKey
  body: any,
  // biome-ignore lint/suspicious/noExplicitAny: generated response header
  header?: any,
): Buffer {
  const writer = new Writer();
  writer.int32(0);
  encodeResponseHeader(writer, responseHeaderVersion(apiKey, apiVersion), header ?? { correlationId });
  RESPONSE_CODECS[apiKey]!.encode(writer, apiVersion, body);
  return withLengthPrefix(writer.finish());
}

// biome-ignore lint/suspicious/noExplicitAny: generated response body for apiKey
export function decodeResponseFrame(apiKey: number, apiVersion: number, frame: Buffer): any {
  return decodeResponseWithHeader(apiKey, apiVersion, frame).body;
}

// biome-ignore lint/suspicious/noExplicitAny: generated header and body
export function decodeResponseWithHeader(
  apiKey: number,
  apiVersion: number,
  frame: Buffer,
): { header: any; body: any } {
  const reader = new Reader(frame, 4);
  const header = decodeResponseHeader(reader, responseHeaderVersion(apiKey, apiVersion));
  const body = RESPONSE_CODECS[apiKey]!.decode(reader, apiVersion);
  return { header, body };
}

function withLengthPrefix(frame: Buffer): Buffer {
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}
