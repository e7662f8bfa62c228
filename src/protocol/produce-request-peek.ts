import { ApiKey, hasField, isFlexibleRequest } from "./api.ts";
import type { Reader } from "./primitives/reader.ts";
import { readTaggedFields } from "./primitives/tagged.ts";
import { peekRequestBody } from "./request-peek.ts";

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
      if (isVirtual(key, byId)) return true;
      const partitions = flexible ? r.compactArrayLength(1) : r.arrayLength(1);
      for (let p = 0; p < partitions; p++) {
        r.int32();
        if (flexible) {
          r.compactNullableBytes();
          readTaggedFields(r);
        } else {
          r.nullableBytes();
        }
      }
      if (flexible) readTaggedFields(r);
    }
    return false;
  });
}
