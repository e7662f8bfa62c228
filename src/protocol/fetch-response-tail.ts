import { KafkaProtocolError } from "./errors.ts";
import { decodeResponse, encodeResponse } from "./frame.ts";
import { ApiKey, apiInfo } from "./generated/api-keys.ts";
import { ErrorCode } from "./generated/error-codes.ts";
import { firstVersion } from "./generated/field-versions.ts";
import type { TaggedField } from "./primitives/tagged.ts";

const FIRST_FLEXIBLE_VERSION = apiInfo(ApiKey.Fetch)!.responseFlexibleMinVersion;
const FIRST_TOPIC_ID_VERSION = firstVersion("FetchResponse", "responses.topicId");
const PARTITION_FIXED_BYTES = 4 + 2 + 8 + 8 + 8;
const ABORTED_TRANSACTION_FIXED_BYTES = 8 + 8;

const Phase = {
  Head: 0,
  Topic: 1,
  Partition: 2,
  Records: 3,
  PartitionTags: 4,
  Done: 5,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Thrown by `advance` for a response whose structure cannot be a Fetch response of its version. */
function malformed(message: string): KafkaProtocolError {
  return new KafkaProtocolError("INVALID_VALUE", message, "FetchResponse");
}

/**
 * Finds where a flexible Fetch response's top-level tagged fields (its tail) begin while the response is still
 * arriving: it reads the few bytes around each partition's records and skips the records themselves. Every byte
 * before the offset `advance` returns precedes the tail, so it can be passed on unchanged before the rest
 * arrives.
 */
export class FetchResponseTailFinder {
  /** Where the tail begins (an offset in the length-prefixed frame), once found; -1 before. */
  tailStart = -1;
  private readonly version: number;
  private phase: Phase = Phase.Head;
  /** Start of the next unit still to read. */
  private offset = 0;
  private topicsLeft = 0;
  private partitionsLeft = 0;
  private recordsEnd = 0;
  /** Scratch cursor of the unit being read; -1 once it ran past the arrived bytes. */
  private cursor = 0;
  private limit = 0;

  constructor(version: number) {
    if (version < FIRST_FLEXIBLE_VERSION) {
      throw new RangeError(
        `Fetch v${version} has no tagged fields (flexible from v${FIRST_FLEXIBLE_VERSION})`,
      );
    }
    this.version = version;
  }

  static handles(apiKey: number, apiVersion: number): boolean {
    return apiKey === ApiKey.Fetch && apiVersion >= FIRST_FLEXIBLE_VERSION;
  }

  /**
   * Reads on through `frame[0, arrived)` (the length-prefixed frame as far as it has arrived) and returns the
   * end of the bytes known to precede the tail.
   */
  advance(frame: Buffer, arrived: number): number {
    this.limit = arrived;
    for (;;) {
      switch (this.phase) {
        case Phase.Head:
          if (!this.readHead(frame)) return this.offset;
          break;
        case Phase.Topic:
          if (this.topicsLeft === 0) {
            this.tailStart = this.offset;
            this.phase = Phase.Done;
            return this.offset;
          }
          if (!this.readTopicHead(frame)) return this.offset;
          break;
        case Phase.Partition:
          if (this.partitionsLeft === 0) {
            if (!this.commitAfter(this.skipTaggedFields(frame, this.offset))) return this.offset;
            this.topicsLeft--;
            this.phase = Phase.Topic;
          } else if (!this.readPartitionHead(frame)) return this.offset;
          break;
        case Phase.Records:
          if (arrived < this.recordsEnd) return arrived;
          this.offset = this.recordsEnd;
          this.phase = Phase.PartitionTags;
          break;
        case Phase.PartitionTags:
          if (!this.commitAfter(this.skipTaggedFields(frame, this.offset))) return this.offset;
          this.partitionsLeft--;
          this.phase = Phase.Partition;
          break;
        case Phase.Done:
          return this.tailStart;
      }
    }
  }

  private readHead(frame: Buffer): boolean {
    let p = this.skipTaggedFields(frame, this.offset + 8);
    if (p < 0) return false;
    p += 4 + 2 + 4;
    this.cursor = p;
    const topics = this.arrayLength(frame, "responses");
    if (!this.commit()) return false;
    this.topicsLeft = topics;
    this.phase = Phase.Topic;
    return true;
  }

  private readTopicHead(frame: Buffer): boolean {
    if (this.version >= FIRST_TOPIC_ID_VERSION) {
      this.cursor = this.offset + 16;
    } else {
      this.cursor = this.offset;
      const nameBytes = this.unsignedVarint(frame) - 1;
      if (this.cursor >= 0) {
        if (nameBytes < 0) throw malformed("a topic name is null");
        this.cursor += nameBytes;
      }
    }
    const partitions = this.arrayLength(frame, "partitions");
    if (!this.commit()) return false;
    this.partitionsLeft = partitions;
    this.phase = Phase.Partition;
    return true;
  }

  private readPartitionHead(frame: Buffer): boolean {
    this.cursor = this.offset + PARTITION_FIXED_BYTES;
    const aborted = this.unsignedVarint(frame) - 1;
    for (let i = 0; i < aborted && this.cursor >= 0; i++) {
      this.cursor = this.skipTaggedFields(frame, this.cursor + ABORTED_TRANSACTION_FIXED_BYTES);
    }
    if (this.cursor >= 0) this.cursor += 4;
    const recordsBytes = this.unsignedVarint(frame) - 1;
    if (!this.commit()) return false;
    this.recordsEnd = this.offset + Math.max(recordsBytes, 0);
    if (this.recordsEnd > frame.length) {
      throw malformed(`records of ${recordsBytes} bytes run past the ${frame.length}-byte frame`);
    }
    this.phase = Phase.Records;
    return true;
  }

  /** Moves `offset` to the cursor when the unit read so far has fully arrived. */
  private commit(): boolean {
    if (this.cursor < 0 || this.cursor > this.limit) return false;
    this.offset = this.cursor;
    return true;
  }

  private commitAfter(end: number): boolean {
    this.cursor = end;
    return this.commit();
  }

  private arrayLength(frame: Buffer, field: string): number {
    const length = this.unsignedVarint(frame) - 1;
    if (this.cursor >= 0 && length < 0) throw malformed(`${field} is null`);
    return length;
  }

  /** Reads an unsigned varint at the cursor; leaves the cursor at -1 when the bytes have not all arrived. */
  private unsignedVarint(frame: Buffer): number {
    let p = this.cursor;
    if (p < 0) return 0;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= this.limit) {
        this.cursor = -1;
        return 0;
      }
      const byte = frame[p++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        this.cursor = p;
        return value;
      }
    }
    throw malformed("an unsigned varint is longer than 5 bytes");
  }

  /** The end of the tagged-field section at `start`, or -1 when it has not all arrived. */
  private skipTaggedFields(frame: Buffer, start: number): number {
    this.cursor = start;
    let count = this.unsignedVarint(frame);
    for (; count > 0 && this.cursor >= 0; count--) {
      this.unsignedVarint(frame);
      const size = this.unsignedVarint(frame);
      if (this.cursor >= 0) this.cursor += size;
    }
    if (this.cursor > frame.length) throw malformed("a tagged field runs past the frame");
    return this.cursor > this.limit ? -1 : this.cursor;
  }
}

/** A tag no Fetch response version defines, for the field that keeps a rewritten tail at its original size. */
export const TAIL_PADDING_TAG = 0x7fff_ffff;

const emptyBodyPrefixes = new Map<number, Buffer>();

/** A Fetch response frame of this version with no topics, without its (empty) tagged-field count byte. */
function emptyBodyPrefix(version: number): Buffer {
  let prefix = emptyBodyPrefixes.get(version);
  if (!prefix) {
    const frame = encodeTopicless(version, { nodeEndpoints: [] });
    prefix = frame.subarray(0, frame.length - 1);
    emptyBodyPrefixes.set(version, prefix);
  }
  return prefix;
}

/** A whole Fetch response frame without topics, carrying `tail`'s top-level tagged fields. */
function encodeTopicless(version: number, tail: FetchResponseTail): Buffer {
  return encodeResponse(ApiKey.Fetch, version, 0, {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [],
    nodeEndpoints: tail.nodeEndpoints,
    unknownTaggedFields: tail.unknownTaggedFields,
  });
}

/** The top-level tagged fields of a Fetch response, decoded from its tail. */
export interface FetchResponseTail {
  // biome-ignore lint/suspicious/noExplicitAny: the generated NodeEndpoint type
  nodeEndpoints: any[];
  unknownTaggedFields?: TaggedField[];
}

/** Decodes a Fetch response tail (its top-level tagged fields) as the fields of a response without topics. */
export function decodeFetchResponseTail(version: number, tail: Buffer): FetchResponseTail {
  const prefix = emptyBodyPrefix(version);
  const frame = Buffer.concat([prefix, tail]);
  frame.writeInt32BE(frame.length - 4, 0);
  return decodeResponse(ApiKey.Fetch, version, frame.subarray(4)).body as FetchResponseTail;
}

function encodeTail(version: number, body: FetchResponseTail): Buffer {
  return encodeTopicless(version, body).subarray(emptyBodyPrefix(version).length);
}

/**
 * Encodes a changed tail in exactly `size` bytes, so that a response whose earlier bytes (and length prefix)
 * were already sent stays whole. A shorter encoding gets an unknown tagged field of filler, which clients skip.
 * When the changed tail would be longer, its node endpoints are left out (clients then learn leaders from
 * Metadata, as before KIP-951) and the rest is filled likewise.
 */
export function encodeFetchResponseTail(version: number, body: FetchResponseTail, size: number): Buffer {
  const fitted = fitTail(version, body, size);
  if (fitted) return fitted;
  const withoutEndpoints = fitTail(version, { ...body, nodeEndpoints: [] }, size);
  if (withoutEndpoints) return withoutEndpoints;
  throw malformed(`a ${size}-byte tail cannot be re-encoded at its size`);
}

function fitTail(version: number, body: FetchResponseTail, size: number): Buffer | undefined {
  const unpadded = encodeTail(version, body);
  if (unpadded.length === size) return Buffer.from(unpadded);
  if (unpadded.length > size) return undefined;
  const known = (body.unknownTaggedFields ?? []).filter((field) => field.tag !== TAIL_PADDING_TAG);
  let filler = size - unpadded.length;
  for (let attempt = 0; attempt < 4 && filler >= 0; attempt++) {
    const padded = encodeTail(version, {
      nodeEndpoints: body.nodeEndpoints,
      unknownTaggedFields: [...known, { tag: TAIL_PADDING_TAG, data: Buffer.alloc(filler) }],
    });
    if (padded.length === size) return Buffer.from(padded);
    filler -= padded.length - size;
  }
  return undefined;
}
