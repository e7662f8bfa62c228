import { ApiKey, hasField, isFlexibleRequest } from "./api.ts";
import type { Reader } from "./primitives/reader.ts";
import { readTaggedFields } from "./primitives/tagged.ts";
import { peekRequestBody } from "./request-peek.ts";

/**
 * Whether a Fetch request frame (length prefix included) names a topic `needsLook` accepts, among the topics
 * fetched or forgotten, read without decoding the request. Malformed frames answer true so the full decoder
 * reports them.
 */
export function fetchNamesTopic(
  frame: Buffer,
  version: number,
  needsLook: (nameOrId: string, byId: boolean) => boolean,
): boolean {
  const flexible = isFlexibleRequest(ApiKey.Fetch, version);
  const byId = hasField("FetchRequest", "topics.topicId", version);
  const replicaId = hasField("FetchRequest", "replicaId", version);
  const sessions = hasField("FetchRequest", "sessionId", version);
  const currentLeaderEpoch = hasField("FetchRequest", "topics.partitions.currentLeaderEpoch", version);
  const lastFetchedEpoch = hasField("FetchRequest", "topics.partitions.lastFetchedEpoch", version);
  const logStartOffset = hasField("FetchRequest", "topics.partitions.logStartOffset", version);
  const forgottenTopics = hasField("FetchRequest", "forgottenTopicsData", version);
  return peekRequestBody(frame, ApiKey.Fetch, version, (r: Reader) => {
    const topicKey = () => (byId ? r.uuid() : flexible ? r.compactString() : r.string());
    const arrayLength = () => (flexible ? r.compactArrayLength(1) : r.arrayLength(1));
    if (replicaId) r.int32();
    r.int32();
    r.int32();
    r.int32();
    r.int8();
    if (sessions) {
      r.int32();
      r.int32();
    }
    const topics = arrayLength();
    for (let t = 0; t < topics; t++) {
      if (needsLook(topicKey(), byId)) return true;
      const partitions = arrayLength();
      for (let p = 0; p < partitions; p++) {
        r.int32();
        if (currentLeaderEpoch) r.int32();
        r.int64();
        if (lastFetchedEpoch) r.int32();
        if (logStartOffset) r.int64();
        r.int32();
        if (flexible) readTaggedFields(r);
      }
      if (flexible) readTaggedFields(r);
    }
    if (!forgottenTopics) return false;
    const forgotten = arrayLength();
    for (let t = 0; t < forgotten; t++) {
      if (needsLook(topicKey(), byId)) return true;
      const partitions = arrayLength();
      for (let p = 0; p < partitions; p++) r.int32();
      if (flexible) readTaggedFields(r);
    }
    return false;
  });
}
