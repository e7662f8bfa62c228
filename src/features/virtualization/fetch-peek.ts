import type { Reader } from "../../protocol/primitives/reader.ts";
import { readTaggedFields } from "../../protocol/primitives/tagged.ts";
import { peekRequestBody } from "../../proxy/request-peek.ts";

const FIRST_FLEXIBLE_VERSION = 12;
const FIRST_VERSION_WITH_TOPIC_IDS = 13;
const FIRST_VERSION_WITHOUT_REPLICA_ID = 15;
const FIRST_VERSION_WITH_SESSIONS = 7;

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
  const flexible = version >= FIRST_FLEXIBLE_VERSION;
  const byId = version >= FIRST_VERSION_WITH_TOPIC_IDS;
  return peekRequestBody(frame, flexible, (r: Reader) => {
    const topicKey = () => (byId ? r.uuid() : flexible ? r.compactString() : r.string());
    const arrayLength = () => (flexible ? r.compactArrayLength(1) : r.arrayLength(1));
    if (version < FIRST_VERSION_WITHOUT_REPLICA_ID) r.int32();
    r.int32();
    r.int32();
    r.int32();
    r.int8();
    if (version >= FIRST_VERSION_WITH_SESSIONS) {
      r.int32();
      r.int32();
    }
    const topics = arrayLength();
    for (let t = 0; t < topics; t++) {
      if (needsLook(topicKey(), byId)) return true;
      const partitions = arrayLength();
      for (let p = 0; p < partitions; p++) {
        r.int32();
        if (version >= 9) r.int32();
        r.int64();
        if (version >= 12) r.int32();
        if (version >= 5) r.int64();
        r.int32();
        if (flexible) readTaggedFields(r);
      }
      if (flexible) readTaggedFields(r);
    }
    if (version < FIRST_VERSION_WITH_SESSIONS) return false;
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
