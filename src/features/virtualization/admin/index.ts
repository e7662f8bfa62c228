import type { ApiHandlers } from "../../../feature-api/feature.ts";
import { ApiKey } from "../../../protocol/api.ts";
import type { VirtualizationContext } from "../context.ts";
import { VirtualCreatePartitions } from "./create-partitions.ts";
import { VirtualCreateTopics } from "./create-topics.ts";
import { VirtualDeleteRecords } from "./delete-records.ts";
import { VirtualMetadata } from "./metadata.ts";

/**
 * Topics as clients see and manage them: Metadata and DescribeTopicPartitions show V partitions; CreateTopics
 * creates P; CreatePartitions and DeleteRecords are refused, since either would break the mapping.
 */
export function adminHandlers(context: VirtualizationContext): ApiHandlers {
  const metadata = new VirtualMetadata(context.rules, context.topics);
  return {
    [ApiKey.Metadata]: metadata.metadata,
    [ApiKey.DescribeTopicPartitions]: metadata.describeTopicPartitions,
    [ApiKey.CreateTopics]: new VirtualCreateTopics(context),
    [ApiKey.CreatePartitions]: new VirtualCreatePartitions(context),
    [ApiKey.DeleteRecords]: new VirtualDeleteRecords(context),
  };
}
