// Our codec addressed the way vectors are: by kind, API key and version.
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  REQUEST_CODECS,
  RESPONSE_CODECS,
} from "../../src/protocol/generated/index.ts";
import { Reader } from "../../src/protocol/primitives/reader.ts";
import { Writer } from "../../src/protocol/primitives/writer.ts";
import type { RefereeCase } from "./java-referee.ts";

type Address = Pick<RefereeCase, "kind" | "apiKey" | "version">;

/** The message ended before its bytes did. */
export class TrailingBytesError extends Error {
  override readonly name = "TrailingBytesError";
}

/** Decodes a whole message; trailing bytes are an error. */
export function decodeCase(c: Address, bytes: Buffer): Record<string, unknown> {
  const r = new Reader(bytes);
  let decoded: unknown;
  if (c.kind === "request") decoded = codecOf(REQUEST_CODECS, c).decode(r, c.version);
  else if (c.kind === "response") decoded = codecOf(RESPONSE_CODECS, c).decode(r, c.version);
  else if (c.kind === "requestHeader") decoded = decodeRequestHeader(r, c.version);
  else decoded = decodeResponseHeader(r, c.version);
  if (r.remaining() !== 0) throw new TrailingBytesError(`${r.remaining()} bytes left after decoding`);
  return decoded as Record<string, unknown>;
}

export function encodeCase(c: Address, message: unknown, w: Writer = new Writer()): Buffer {
  if (c.kind === "request") codecOf(REQUEST_CODECS, c).encode(w, c.version, message as never);
  else if (c.kind === "response") codecOf(RESPONSE_CODECS, c).encode(w, c.version, message as never);
  else if (c.kind === "requestHeader") encodeRequestHeader(w, c.version, message as never);
  else encodeResponseHeader(w, c.version, message as never);
  return w.finish();
}

/** Decode then encode: what our codec makes of bytes it passes through. */
export function reencodeCase(c: Address, bytes: Buffer, w?: Writer): Buffer {
  return encodeCase(c, decodeCase(c, bytes), w);
}

function codecOf<T>(codecs: ReadonlyArray<T | undefined>, c: Address): T {
  const codec = codecs[c.apiKey];
  if (codec === undefined) throw new Error(`no ${c.kind} codec for API key ${c.apiKey}`);
  return codec;
}
