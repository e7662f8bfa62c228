import type { CreatePartitionsRequest } from "../../protocol/generated/messages/create-partitions-request.ts";
import type {
  CreatePartitionsResponse,
  CreatePartitionsTopicResult,
} from "../../protocol/generated/messages/create-partitions-response.ts";
import type { CreateTopicsRequest } from "../../protocol/generated/messages/create-topics-request.ts";
import type {
  CreatableTopicResult,
  CreateTopicsResponse,
} from "../../protocol/generated/messages/create-topics-response.ts";
import type { DeleteRecordsRequest } from "../../protocol/generated/messages/delete-records-request.ts";
import type {
  DeleteRecordsResponse,
  DeleteRecordsTopicResult,
} from "../../protocol/generated/messages/delete-records-response.ts";
import type { Exchange, RequestInterceptor } from "../../proxy/feature.ts";
import type { VirtualizationContext } from "./context.ts";

const CREATE_TOPICS = 19;
const DELETE_RECORDS = 21;
const CREATE_PARTITIONS = 37;
const INVALID_PARTITIONS = 37;
const INVALID_REPLICA_ASSIGNMENT = 39;
const POLICY_VIOLATION = 44;
const ZERO_UUID = "0".repeat(32);

/**
 * Admin requests on virtualized topics: CreateTopics creates P physical partitions and reports V;
 * CreatePartitions and DeleteRecords are refused with a reason, since either would break the mapping.
 */
export class VirtualAdmin implements RequestInterceptor {
  readonly name = "virtualization-admin";
  readonly interceptApiKeys = [CREATE_TOPICS, DELETE_RECORDS, CREATE_PARTITIONS];
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  intercept(exchange: Exchange): Promise<unknown> | undefined {
    switch (exchange.apiKey) {
      case CREATE_TOPICS:
        return this.createTopics(exchange);
      case CREATE_PARTITIONS:
        return this.createPartitions(exchange);
      default:
        return this.deleteRecords(exchange);
    }
  }

  private createTopics(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as CreateTopicsRequest;
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return undefined;
    const refused: CreatableTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      const layout = rules.layoutOf(topic.name);
      if (!layout) return true;
      let reason: string | undefined;
      let errorCode = INVALID_PARTITIONS;
      if (topic.assignments.length > 0) {
        errorCode = INVALID_REPLICA_ASSIGNMENT;
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
    const upstream: Promise<CreateTopicsResponse> =
      forwarded.length > 0
        ? exchange.send(CREATE_TOPICS, exchange.apiVersion, { ...request, topics: forwarded })
        : Promise.resolve({ throttleTimeMs: 0, topics: [] });
    return upstream.then((response) => {
      for (const result of response.topics) {
        const layout = rules.layoutOf(result.name);
        if (layout && result.numPartitions === layout.physicalPartitions) {
          result.numPartitions = layout.virtualPartitions;
        }
      }
      response.topics.push(...refused);
      return response;
    });
  }

  private createPartitions(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as CreatePartitionsRequest;
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return undefined;
    const refused: CreatePartitionsTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      const layout = rules.layoutOf(topic.name);
      if (!layout) return true;
      refused.push({
        name: topic.name,
        errorCode: INVALID_PARTITIONS,
        errorMessage: `topic ${topic.name} is virtualized: its ${layout.virtualPartitions} partitions are fixed by the proxy's rule (${layout.physicalPartitions} physical); adding partitions would move data between virtual partitions`,
      });
      return false;
    });
    const upstream: Promise<CreatePartitionsResponse> =
      forwarded.length > 0
        ? exchange.send(CREATE_PARTITIONS, exchange.apiVersion, { ...request, topics: forwarded })
        : Promise.resolve({ throttleTimeMs: 0, results: [] });
    return upstream.then((response) => {
      response.results.push(...refused);
      return response;
    });
  }

  private deleteRecords(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as DeleteRecordsRequest;
    const rules = this.context.rules;
    if (!request.topics.some((topic) => rules.layoutOf(topic.name))) return undefined;
    const refused: DeleteRecordsTopicResult[] = [];
    const forwarded = request.topics.filter((topic) => {
      if (!rules.layoutOf(topic.name)) return true;
      exchange.log.warn(
        { topic: topic.name },
        "DeleteRecords refused (POLICY_VIOLATION): deleting records of a virtual partition would delete its neighbours' records on the same physical partition",
      );
      refused.push({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          lowWatermark: -1n,
          errorCode: POLICY_VIOLATION,
        })),
      });
      return false;
    });
    const upstream: Promise<DeleteRecordsResponse> =
      forwarded.length > 0
        ? exchange.send(DELETE_RECORDS, exchange.apiVersion, { ...request, topics: forwarded })
        : Promise.resolve({ throttleTimeMs: 0, topics: [] });
    return upstream.then((response) => {
      response.topics.push(...refused);
      return response;
    });
  }
}

function topicResult(name: string, errorCode: number, errorMessage: string): CreatableTopicResult {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage,
    topicConfigErrorCode: 0,
    numPartitions: -1,
    replicationFactor: -1,
    configs: null,
  };
}
