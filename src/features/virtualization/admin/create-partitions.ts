import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../protocol/api.ts";
import type { CreatePartitionsTopicResult } from "../../../protocol/generated/messages/create-partitions-response.ts";
import type { VirtualizationContext } from "../context.ts";

type CreatePartitions = typeof ApiKey.CreatePartitions;

/**
 * CreatePartitions of a virtualized topic is refused (INVALID_PARTITIONS) with the reason: its partition count
 * is fixed by the rule, and more physical partitions would move data between virtual partitions.
 */
export class VirtualCreatePartitions implements ApiHandler<CreatePartitions> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: RequestOf<CreatePartitions>,
    context: RequestContext<CreatePartitions>,
  ): Promise<ResponseOf<CreatePartitions>> {
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return context.next(request);
    const refused: CreatePartitionsTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      const layout = rules.layoutOf(topic.name);
      if (!layout) return true;
      refused.push({
        name: topic.name,
        errorCode: ErrorCode.INVALID_PARTITIONS,
        errorMessage: `topic ${topic.name} is virtualized: its ${layout.virtualPartitions} partitions are fixed by the proxy's rule (${layout.physicalPartitions} physical); adding partitions would move data between virtual partitions`,
      });
      return false;
    });
    const response: ResponseOf<CreatePartitions> =
      forwarded.length > 0
        ? await context.next({ ...request, topics: forwarded })
        : { throttleTimeMs: 0, results: [] };
    response.results.push(...refused);
    return response;
  }
}
