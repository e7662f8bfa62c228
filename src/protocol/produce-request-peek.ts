import { ApiKey, hasField, isFlexibleRequest } from "./api.ts";
import type { Reader } from "./primitives/reader.ts";
import { readTaggedFields } from "./primitives/tagged.ts";
import { peekRequestBody } from "./request-peek.ts";

/**
 * Walks a Produce request frame (length prefix included) without decoding it: `visitTopic` sees each topic's name
 * (or id) and may stop the walk by answering true; `visitRecords` gets each partition's records as a slice of the
 * frame. Answers whether the walk stopped early; a malformed frame answers true.
 */
export function walkProduce(
  frame: Buffer,
  version: number,
  visitTopic: (nameOrId: string, byId: boolean) => boolean,
  visitRecords?: (records: Buffer) => void,
): boolean {
  const flexible = isFlexibleRequest(ApiKey.Produce, version);
  const byId = hasField("ProduceRequest", "topicData.topicId", version);
  return peekRequestBody(frame, ApiKey.Produce, version, (r: Reader) => {
    if (flexible) r.compactNullableString();
    else r.nullableString();
    r.int16();
    r.int32();
    const topics = flexible ? r.compactArrayLength(1) : r.arrayLength(1);
    for (let t = 0; t < topics; t++) {
      const key = byId ? r.uuid() : flexible ? r.compactString() : r.string();
      if (visitTopic(key, byId)) return true;
      const partitions = flexible ? r.compactArrayLength(1) : r.arrayLength(1);
      for (let p = 0; p < partitions; p++) {
        r.int32();
        const records = flexible ? r.compactNullableBytes() : r.nullableBytes();
        if (records && visitRecords) visitRecords(records);
        if (flexible) readTaggedFields(r);
      }
      if (flexible) readTaggedFields(r);
    }
    return false;
  });
}

/**
 * Whether a Produce request frame (length prefix included) names a topic `isVirtual` accepts, read without
 * decoding the request: record bytes are skipped, not sliced into objects. Malformed frames answer true so the
 * full decoder reports them.
 */
export function produceNamesTopic(
  frame: Buffer,
  version: number,
  isVirtual: (nameOrId: string, byId: boolean) => boolean,
): boolean {
  return walkProduce(frame, version, isVirtual);
}

const visitEveryTopic = () => false;

/**
 * Hands every partition's records of a Produce request frame to `visit`, as slices of the frame itself (so the
 * records may be changed in place, at the same length). A malformed frame is left alone: the broker refuses it.
 */
export function forEachProducedRecords(
  frame: Buffer,
  version: number,
  visit: (records: Buffer) => void,
): void {
  walkProduce(frame, version, visitEveryTopic, visit);
}
