import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf, ZERO_UUID } from "../../../protocol/api.ts";
import type { CreatableTopicResult } from "../../../protocol/generated/messages/create-topics-response.ts";
import type { VirtualizationContext } from "../context.ts";

type CreateTopics = typeof ApiKey.CreateTopics;

/**
 * CreateTopics of a virtualized topic creates its P physical partitions and reports V. A partition count other
 * than V, P or the default, or a manual replica assignment, is refused with the reason.
 */
export class VirtualCreateTopics implements ApiHandler<CreateTopics> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: RequestOf<CreateTopics>,
    context: RequestContext<CreateTopics>,
  ): Promise<ResponseOf<CreateTopics>> {
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return context.next(request);
    const refused: CreatableTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      const layout = rules.layoutOf(topic.name);
      if (!layout) return true;
      let reason: string | undefined;
      let errorCode: number = ErrorCode.INVALID_PARTITIONS;
      if (topic.assignments.length > 0) {
        errorCode = ErrorCode.INVALID_REPLICA_ASSIGNMENT;
        reason = `topic ${topic.name} is virtualized; manual replica assignments are not supported, use a replication factor`;
      } else if (
        topic.numPartitions !== -1 &&
        topic.numPartitions !== layout.virtualPartitions &&
        topic.numPartitions !== layout.physicalPartitions
      ) {
        reason = `topic ${topic.name} is virtualized with ${layout.virtualPartitions} partitions (stored on ${layout.physicalPartitions}); create it with ${layout.virtualPartitions} partitions or the default`;
      }
      if (reason) {
        refused.push(topicResult(topic.name, errorCode, reason));
        return false;
      }
      topic.numPartitions = layout.physicalPartitions;
      return true;
    });
    const response: ResponseOf<CreateTopics> =
      forwarded.length > 0
        ? await context.next({ ...request, topics: forwarded })
        : { throttleTimeMs: 0, topics: [] };
    for (const result of response.topics) {
      const layout = rules.layoutOf(result.name);
      if (layout && result.numPartitions === layout.physicalPartitions) {
        result.numPartitions = layout.virtualPartitions;
      }
    }
    response.topics.push(...refused);
    return response;
  }
}

function topicResult(name: string, errorCode: number, errorMessage: string): CreatableTopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}
