import type { RequestContext } from "../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import type { Topology } from "../../topology/topology.ts";

/**
 * What cannot span clusters, refused with an error the client reports instead of a broker's puzzling answer:
 * - a transaction's partitions and group offsets must live on its transactional id's home cluster, where its
 *   coordinator is: AddPartitionsToTxn, AddOffsetsToTxn and TxnOffsetCommit naming another cluster are refused
 *   with INVALID_TXN_STATE (the other partitions of the request get OPERATION_NOT_ATTEMPTED, as brokers do);
 * - a consumer-protocol group (KIP-848) is assigned by its coordinator, which knows its own cluster's topics
 *   only: a subscription naming another cluster's topics is refused with INVALID_REQUEST and a message.
 */
export class SingleClusterRefusals {
  private readonly topology: Topology;

  constructor(topology: Topology) {
    this.topology = topology;
  }

  private foreignTopics(names: Iterable<string>, home: string): string[] {
    const foreign: string[] = [];
    for (const name of names) if (this.topology.routing.clusterOfTopic(name) !== home) foreign.push(name);
    return foreign;
  }

  async addPartitionsToTxn(
    request: RequestOf<typeof ApiKey.AddPartitionsToTxn>,
    context: RequestContext<typeof ApiKey.AddPartitionsToTxn>,
  ): Promise<ResponseOf<typeof ApiKey.AddPartitionsToTxn>> {
    if (request.transactions.length > 0) return context.next(request);
    const home = this.topology.routing.homeOfTransactionalId(request.v3AndBelowTransactionalId);
    const foreign = new Set(
      this.foreignTopics(
        request.v3AndBelowTopics.map((t) => t.name),
        home,
      ),
    );
    if (foreign.size === 0) return context.next(request);
    context.log.warn(
      { transactionalId: request.v3AndBelowTransactionalId, home, topics: [...foreign] },
      "a transaction may only write to its own cluster's topics; refused",
    );
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      resultsByTransaction: [],
      resultsByTopicV3AndBelow: request.v3AndBelowTopics.map((topic) => ({
        name: topic.name,
        resultsByPartition: topic.partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode: foreign.has(topic.name)
            ? ErrorCode.INVALID_TXN_STATE
            : ErrorCode.OPERATION_NOT_ATTEMPTED,
        })),
      })),
    };
  }

  async addOffsetsToTxn(
    request: RequestOf<typeof ApiKey.AddOffsetsToTxn>,
    context: RequestContext<typeof ApiKey.AddOffsetsToTxn>,
  ): Promise<ResponseOf<typeof ApiKey.AddOffsetsToTxn>> {
    const routing = this.topology.routing;
    const home = routing.homeOfTransactionalId(request.transactionalId);
    const groupHome = routing.homeOfGroup(request.groupId);
    if (groupHome === home) return context.next(request);
    context.log.warn(
      { transactionalId: request.transactionalId, home, groupId: request.groupId, groupHome },
      "a transaction may only commit offsets of a group whose home is its own cluster; refused",
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_TXN_STATE };
  }

  async txnOffsetCommit(
    request: RequestOf<typeof ApiKey.TxnOffsetCommit>,
    context: RequestContext<typeof ApiKey.TxnOffsetCommit>,
  ): Promise<ResponseOf<typeof ApiKey.TxnOffsetCommit>> {
    const home = this.topology.clusterOfNode(context.nodeId);
    const names = request.topics.map(
      (topic) => topic.name || this.topology.topics.nameOf(topic.topicId) || "",
    );
    const foreign = new Set(this.foreignTopics(names.filter(Boolean), home));
    if (foreign.size === 0) return context.next(request);
    context.log.warn(
      { transactionalId: request.transactionalId, groupId: request.groupId, topics: [...foreign] },
      "a transaction may only commit offsets of its own cluster's topics; refused",
    );
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic, i) => ({
        name: topic.name,
        topicId: topic.topicId,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: foreign.has(names[i]!) ? ErrorCode.INVALID_TXN_STATE : ErrorCode.OPERATION_NOT_ATTEMPTED,
        })),
      })),
    };
  }

  async consumerGroupHeartbeat(
    request: RequestOf<typeof ApiKey.ConsumerGroupHeartbeat>,
    context: RequestContext<typeof ApiKey.ConsumerGroupHeartbeat>,
  ): Promise<ResponseOf<typeof ApiKey.ConsumerGroupHeartbeat>> {
    if (!request.subscribedTopicNames) return context.next(request);
    const home = this.topology.clusterOfNode(context.nodeId);
    const foreign = this.foreignTopics(request.subscribedTopicNames, home);
    if (foreign.length === 0) return context.next(request);
    const clusters = [...new Set(foreign.map((name) => this.topology.routing.clusterOfTopic(name)))];
    const errorMessage = `group ${request.groupId} lives on cluster ${home}, whose coordinator cannot assign topics of cluster ${clusters.join(", ")} (${foreign.slice(0, 5).join(", ")}): use the classic protocol (group.protocol=classic) for a group spanning clusters, or route the group to the cluster of its topics (routing.groups)`;
    context.log.warn({ groupId: request.groupId, home, topics: foreign.slice(0, 20) }, errorMessage);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage,
      memberId: request.memberId || null,
      memberEpoch: -1,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }
}
