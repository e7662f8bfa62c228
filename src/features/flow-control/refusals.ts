import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

/** A Produce refused by a quota: every partition gets THROTTLING_QUOTA_EXCEEDED, and the wait in throttle_time_ms. */
export function refusedProduce(
  request: RequestOf<typeof ApiKey.Produce>,
  throttleTimeMs: number,
): ResponseOf<typeof ApiKey.Produce> {
  return {
    throttleTimeMs,
    nodeEndpoints: [],
    responses: request.topicData.map((topic) => ({
      name: topic.name,
      topicId: topic.topicId,
      partitionResponses: topic.partitionData.map((partition) => ({
        index: partition.index,
        errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED,
        baseOffset: -1n,
        logAppendTimeMs: -1n,
        logStartOffset: -1n,
        recordErrors: [],
        errorMessage: "the proxy's byte-rate quota for this topic or client is exceeded",
        currentLeader: NO_LEADER,
      })),
    })),
  };
}

/**
 * A Fetch refused by a quota: no records and the wait in throttle_time_ms. Its fetch session stays as it was (an
 * answer without partitions changes nothing); a partition error would fail consumers that do not know it.
 */
export function refusedFetch(
  request: RequestOf<typeof ApiKey.Fetch>,
  throttleTimeMs: number,
): ResponseOf<typeof ApiKey.Fetch> {
  return {
    throttleTimeMs,
    errorCode: ErrorCode.NONE,
    sessionId: request.sessionId,
    responses: [],
    nodeEndpoints: [],
  };
}
