import type { ApiHandler } from "../../../feature-api/feature.ts";
import type { ApiKey } from "../../../protocol/api.ts";
import type {
  Assignment,
  ConsumerGroupDescribeResponse,
} from "../../../protocol/generated/messages/consumer-group-describe-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { expandToVirtual } from "../mapping/rules.ts";

/** ConsumerGroupDescribe shows members' current and target assignments as virtual partitions. */
export class VirtualConsumerGroupDescribe implements ApiHandler<typeof ApiKey.ConsumerGroupDescribe> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  onResponse(response: ConsumerGroupDescribeResponse): boolean {
    let changed = false;
    const expand = (assignment: Assignment | undefined) => {
      if (!assignment) return;
      for (const topic of assignment.topicPartitions) {
        const name = topic.topicName || this.context.topics.nameOf(topic.topicId);
        const layout = name ? this.context.rules.layoutOf(name) : undefined;
        if (!layout) continue;
        topic.partitions = expandToVirtual(topic.partitions, layout);
        changed = true;
      }
    };
    for (const group of response.groups) {
      for (const member of group.members) {
        expand(member.assignment);
        expand(member.targetAssignment);
      }
    }
    return changed;
  }
}
