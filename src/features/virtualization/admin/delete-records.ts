import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type { DeleteRecordsTopicResult } from "../../../protocol/generated/messages/delete-records-response.ts";
import type { VirtualizationContext } from "../context.ts";

type DeleteRecords = typeof ApiKey.DeleteRecords;

/**
 * DeleteRecords on a virtualized topic is refused (POLICY_VIOLATION): deleting records of a virtual partition
 * would delete its neighbours' records on the same physical partition.
 */
export class VirtualDeleteRecords implements ApiHandler<DeleteRecords> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: RequestOf<DeleteRecords>,
    context: RequestContext<DeleteRecords>,
  ): Promise<ResponseOf<DeleteRecords>> {
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return context.next(request);
    const refused: DeleteRecordsTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      if (!rules.layoutOf(topic.name)) return true;
      context.log.warn(
        { topic: topic.name },
        "DeleteRecords refused (POLICY_VIOLATION): deleting records of a virtual partition would delete its neighbours' records on the same physical partition",
      );
      refused.push({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          lowWatermark: -1n,
          errorCode: ErrorCode.POLICY_VIOLATION,
        })),
      });
      return false;
    });
    const response: ResponseOf<DeleteRecords> =
      forwarded.length > 0
        ? await context.next({ ...request, topics: forwarded })
        : { throttleTimeMs: 0, topics: [] };
    response.topics.push(...refused);
    return response;
  }
}
