import type { Reader } from "./primitives/reader.ts";
import type { Writer } from "./primitives/writer.ts";

/** A generated message codec, as listed in REQUEST_CODECS / RESPONSE_CODECS (indexed by API key). */
export interface MessageCodec<T = unknown> {
  /** e.g. "Metadata request". */
  readonly label: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  decode(r: Reader, version: number): T;
  encode(w: Writer, version: number, message: T): void;
}
