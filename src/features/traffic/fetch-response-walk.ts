import { ApiKey, hasField, isFlexibleResponse } from "../../protocol/api.ts";
import type { Reader } from "../../protocol/primitives/reader.ts";
import { arrayLength, frameReader, releaseFrameReader, skip, skipTaggedFields } from "./frame-reading.ts";

/** What a Fetch response's layout holds at one version. */
interface FetchLayout {
  readonly flexible: boolean;
  readonly throttleTime: boolean;
  readonly topLevelError: boolean;
  readonly topicIds: boolean;
  readonly lastStableOffset: boolean;
  readonly logStartOffset: boolean;
  readonly abortedTransactions: boolean;
  readonly preferredReadReplica: boolean;
}

const layouts: FetchLayout[] = [];

function layoutOf(version: number): FetchLayout {
  let layout = layouts[version];
  if (!layout) {
    const has = (path: Parameters<typeof hasField<"FetchResponse">>[1]) =>
      hasField("FetchResponse", path, version);
    layout = layouts[version] = {
      flexible: isFlexibleResponse(ApiKey.Fetch, version),
      throttleTime: has("throttleTimeMs"),
      topLevelError: has("errorCode"),
      topicIds: has("responses.topicId"),
      lastStableOffset: has("responses.partitions.lastStableOffset"),
      logStartOffset: has("responses.partitions.logStartOffset"),
      abortedTransactions: has("responses.partitions.abortedTransactions"),
      preferredReadReplica: has("responses.partitions.preferredReadReplica"),
    };
  }
  return layout;
}

/** What a walk over a Fetch response hands on. */
export interface FetchVisitor {
  /** A topic's name, or its id (32 hex characters) from v13 on. */
  topic(nameOrId: string, byId: boolean): void;
  /** One partition of the last topic: its error code and its records at `frame[start, end)`. */
  partition(errorCode: number, frame: Buffer, start: number, end: number): void;
  /** The response's top-level error code (v7+). */
  error(errorCode: number): void;
}

/**
 * Walks a Fetch response frame (length prefix included) without decoding it: topic names or ids, partition error
 * codes and where each partition's records lie; the records themselves are skipped. Throws a KafkaProtocolError
 * for a frame that is not a Fetch response of `version`.
 */
export function walkFetchResponse(frame: Buffer, version: number, visit: FetchVisitor): void {
  const r = frameReader(frame, 8);
  try {
    walkBody(r, layoutOf(version), visit);
  } finally {
    releaseFrameReader(r);
  }
}

function walkBody(r: Reader, layout: FetchLayout, visit: FetchVisitor): void {
  const flexible = layout.flexible;
  if (flexible) skipTaggedFields(r);
  if (layout.throttleTime) skip(r, 4);
  if (layout.topLevelError) {
    visit.error(r.int16());
    skip(r, 4);
  }
  const topics = arrayLength(r, flexible, 1);
  for (let t = 0; t < topics; t++) {
    if (layout.topicIds) visit.topic(r.uuid(), true);
    else visit.topic(flexible ? r.compactString() : r.string(), false);
    const partitions = arrayLength(r, flexible, 1);
    for (let p = 0; p < partitions; p++) {
      skip(r, 4);
      const errorCode = r.int16();
      skip(r, 8);
      if (layout.lastStableOffset) skip(r, 8);
      if (layout.logStartOffset) skip(r, 8);
      if (layout.abortedTransactions) {
        const aborted = arrayLength(r, flexible, 1);
        for (let a = 0; a < aborted; a++) {
          skip(r, 16);
          if (flexible) skipTaggedFields(r);
        }
      }
      if (layout.preferredReadReplica) skip(r, 4);
      const recordsBytes = flexible ? r.unsignedVarint() - 1 : r.int32();
      const start = r.offset;
      if (recordsBytes > 0) skip(r, recordsBytes);
      visit.partition(errorCode, r.buf, start, r.offset);
      if (flexible) skipTaggedFields(r);
    }
    if (flexible) skipTaggedFields(r);
  }
}
