import { ApiKey, hasField, isFlexibleResponse } from "../../protocol/api.ts";
import type { Reader } from "../../protocol/primitives/reader.ts";
import {
  arrayLength,
  frameReader,
  releaseFrameReader,
  skip,
  skipString,
  skipTaggedFields,
} from "./frame-reading.ts";

/** What a Produce response's layout holds at one version. */
interface ProduceLayout {
  readonly flexible: boolean;
  readonly topicIds: boolean;
  readonly logAppendTime: boolean;
  readonly logStartOffset: boolean;
  readonly recordErrors: boolean;
  readonly errorMessage: boolean;
}

const layouts: ProduceLayout[] = [];

function layoutOf(version: number): ProduceLayout {
  let layout = layouts[version];
  if (!layout) {
    const has = (path: Parameters<typeof hasField<"ProduceResponse">>[1]) =>
      hasField("ProduceResponse", path, version);
    layout = layouts[version] = {
      flexible: isFlexibleResponse(ApiKey.Produce, version),
      topicIds: has("responses.topicId"),
      logAppendTime: has("responses.partitionResponses.logAppendTimeMs"),
      logStartOffset: has("responses.partitionResponses.logStartOffset"),
      recordErrors: has("responses.partitionResponses.recordErrors"),
      errorMessage: has("responses.partitionResponses.errorMessage"),
    };
  }
  return layout;
}

/** The bytes of a partition's index, error code and base offset. */
const PARTITION_MIN_BYTES = 4 + 2 + 8;
/** The bytes of a record error's batch index and its shortest (null) message. */
const RECORD_ERROR_MIN_BYTES = 4 + 1;

/**
 * Walks a Produce response frame (length prefix included) without decoding it and hands each partition's error
 * code to `visit`, in order. Topic names, ids and error messages are skipped, not read; the walk stops after the
 * last partition's error code, leaving the rest (throttle time, tagged fields) unread. Throws a
 * KafkaProtocolError for a frame that is not a Produce response of `version`.
 */
export function walkProduceResponse(
  frame: Buffer,
  version: number,
  visit: (errorCode: number) => void,
): void {
  const r = frameReader(frame, 8);
  try {
    walkBody(r, layoutOf(version), visit);
  } finally {
    releaseFrameReader(r);
  }
}

function walkBody(r: Reader, layout: ProduceLayout, visit: (errorCode: number) => void): void {
  const flexible = layout.flexible;
  if (flexible) skipTaggedFields(r);
  const topics = arrayLength(r, flexible, 1);
  for (let t = 0; t < topics; t++) {
    if (layout.topicIds) skip(r, 16);
    else skipString(r, flexible);
    const partitions = arrayLength(r, flexible, PARTITION_MIN_BYTES);
    const lastTopic = t === topics - 1;
    for (let p = 0; p < partitions; p++) {
      skip(r, 4);
      visit(r.int16());
      if (lastTopic && p === partitions - 1) return;
      skip(r, 8);
      if (layout.logAppendTime) skip(r, 8);
      if (layout.logStartOffset) skip(r, 8);
      if (layout.recordErrors) {
        const recordErrors = arrayLength(r, flexible, RECORD_ERROR_MIN_BYTES);
        for (let e = 0; e < recordErrors; e++) {
          skip(r, 4);
          skipString(r, flexible);
          if (flexible) skipTaggedFields(r);
        }
      }
      if (layout.errorMessage) skipString(r, flexible);
      if (flexible) skipTaggedFields(r);
    }
    if (flexible) skipTaggedFields(r);
  }
}
