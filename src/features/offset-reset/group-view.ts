/**
 * What a reset reads of a group and a topic, in the clients' view (through the whole chain): the coordinator,
 * the topic's partitions and leaders, the group's members, committed offsets, and the log's offsets.
 */

import { AdminError } from "../../admin/routes.ts";
import type { ProxyRequests } from "../../feature-api/services.ts";
import { findGroupCoordinator } from "../../groups/group-coordinator.ts";
import { fetchGroupOffsets, OFFSET_FETCH_BY_NAME } from "../../groups/group-offsets.ts";
import {
  ApiKey,
  ErrorCode,
  fieldVersions,
  hasField,
  kafkaError,
  type ResponseOf,
  ZERO_UUID,
} from "../../protocol/api.ts";
import type { VersionBounds } from "../../topology/api-versions.ts";
import type { GroupProtocol } from "./hosted-members.ts";

/** The version a node's broker and the proxy both speak, within bounds. */
export type VersionFor = (
  nodeId: number | undefined,
  apiKey: ApiKey,
  bounds?: VersionBounds,
) => Promise<number>;

export const OFFSET_COMMIT_BY_NAME = {
  max: fieldVersions("OffsetCommitRequest", "topics.name").last ?? undefined,
};

/** ListOffsets' isolation level that sees every record, as the consumer group tool's. */
const READ_UNCOMMITTED = 0;
const LIST_OFFSETS_TIMEOUT_MS = 30_000;
export const EARLIEST_TIMESTAMP = -2n;
export const LATEST_TIMESTAMP = -1n;
/** The offset OffsetFetch and ListOffsets give for "none". */
export const NO_OFFSET = -1n;

function failed(what: string, errorCode: number): AdminError {
  return new AdminError(502, `${what} failed: ${kafkaError(errorCode)?.name ?? `error ${errorCode}`}`);
}

export interface TopicView {
  readonly name: string;
  readonly topicId: string;
  /** Partition index -> leader's virtual node id. */
  readonly leaders: ReadonlyMap<number, number>;
}

export interface GroupMemberView {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  /** The member epoch (KIP-848 groups); undefined for classic groups. */
  readonly memberEpoch: number | undefined;
}

export interface GroupView {
  readonly protocol: GroupProtocol;
  readonly state: string;
  readonly members: readonly GroupMemberView[];
}

export interface CommittedOffset {
  readonly offset: bigint;
  readonly metadata: string | null;
}

export class GroupReader {
  private readonly requests: ProxyRequests;
  private readonly versionFor: VersionFor;

  constructor(requests: ProxyRequests, versionFor: VersionFor) {
    this.requests = requests;
    this.versionFor = versionFor;
  }

  async coordinator(groupId: string): Promise<number> {
    const version = await this.versionFor(undefined, ApiKey.FindCoordinator);
    const answer = await findGroupCoordinator(this.requests, version, groupId);
    if (!answer) throw new AdminError(502, `FindCoordinator answered nothing for group ${groupId}`);
    if (answer.errorCode !== ErrorCode.NONE)
      throw failed(`FindCoordinator for group ${groupId}`, answer.errorCode);
    return answer.nodeId;
  }

  async topic(name: string): Promise<TopicView> {
    const response = await this.requests.request(ApiKey.Metadata, {
      topics: [{ topicId: ZERO_UUID, name }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const topic = response.topics.find((t) => t.name === name);
    if (!topic || topic.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      throw new AdminError(404, `unknown topic ${name}`);
    if (topic.errorCode !== ErrorCode.NONE) throw failed(`Metadata for topic ${name}`, topic.errorCode);
    return {
      name,
      topicId: topic.topicId,
      leaders: new Map(topic.partitions.map((p) => [p.partitionIndex, p.leaderId])),
    };
  }

  /** The group's protocol, state and members; 404 when the coordinator knows no such group. */
  async group(groupId: string, coordinator: number): Promise<GroupView> {
    const modern = await this.consumerGroup(groupId, coordinator);
    if (modern) return modern;
    const response = await this.requests.request(
      ApiKey.DescribeGroups,
      { groups: [groupId], includeAuthorizedOperations: false },
      { nodeId: coordinator },
    );
    const group = response.groups[0];
    if (!group) throw new AdminError(502, `DescribeGroups answered nothing for group ${groupId}`);
    if (group.errorCode === ErrorCode.GROUP_ID_NOT_FOUND || group.groupState === "Dead")
      throw new AdminError(404, `unknown group ${groupId}`);
    if (group.errorCode !== ErrorCode.NONE)
      throw failed(`DescribeGroups for group ${groupId}`, group.errorCode);
    return {
      protocol: "classic",
      state: group.groupState,
      members: group.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberEpoch: undefined,
      })),
    };
  }

  /** A KIP-848 group's description; undefined for a classic group (or a broker without ConsumerGroupDescribe). */
  private async consumerGroup(groupId: string, coordinator: number): Promise<GroupView | undefined> {
    let response: ResponseOf<typeof ApiKey.ConsumerGroupDescribe>;
    try {
      response = await this.requests.request(
        ApiKey.ConsumerGroupDescribe,
        { groupIds: [groupId], includeAuthorizedOperations: false },
        { nodeId: coordinator },
      );
    } catch {
      return undefined;
    }
    const group = response.groups[0];
    if (!group || group.errorCode !== ErrorCode.NONE) return undefined;
    return {
      protocol: "consumer",
      state: group.groupState,
      members: group.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberEpoch: m.memberEpoch,
      })),
    };
  }

  async committed(
    groupId: string,
    coordinator: number,
    topic: TopicView,
    partitions: readonly number[],
  ): Promise<Map<number, CommittedOffset>> {
    const version = await this.versionFor(coordinator, ApiKey.OffsetFetch, OFFSET_FETCH_BY_NAME);
    const group = await fetchGroupOffsets(this.requests, coordinator, version, groupId, [
      { name: topic.name, partitionIndexes: [...partitions] },
    ]);
    if (!group) throw new AdminError(502, `OffsetFetch answered nothing for group ${groupId}`);
    if (group.errorCode !== ErrorCode.NONE) throw failed(`OffsetFetch for group ${groupId}`, group.errorCode);
    const topics = group.topics;
    const offsets = new Map<number, CommittedOffset>();
    for (const t of topics) {
      for (const p of t.partitions) {
        if (p.errorCode !== ErrorCode.NONE)
          throw failed(`OffsetFetch for ${topic.name}-${p.partitionIndex} of group ${groupId}`, p.errorCode);
        offsets.set(p.partitionIndex, { offset: p.committedOffset, metadata: p.metadata });
      }
    }
    return offsets;
  }

  /** The offset ListOffsets answers for `timestamp` (or EARLIEST_TIMESTAMP / LATEST_TIMESTAMP) per partition. */
  async logOffsets(
    topic: TopicView,
    partitions: readonly number[],
    timestamp: bigint,
  ): Promise<Map<number, bigint>> {
    const byLeader = new Map<number, number[]>();
    for (const p of partitions) {
      const leader = topic.leaders.get(p) ?? -1;
      if (leader < 0) throw new AdminError(503, `partition ${p} of ${topic.name} has no leader`);
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    const offsets = new Map<number, bigint>();
    await Promise.all(
      [...byLeader].map(async ([nodeId, indexes]) => {
        const version = await this.versionFor(nodeId, ApiKey.ListOffsets);
        const response = await this.requests.request(
          ApiKey.ListOffsets,
          {
            replicaId: -1,
            isolationLevel: READ_UNCOMMITTED,
            timeoutMs: hasField("ListOffsetsRequest", "timeoutMs", version) ? LIST_OFFSETS_TIMEOUT_MS : 0,
            topics: [
              {
                name: topic.name,
                partitions: indexes.map((partitionIndex) => ({
                  partitionIndex,
                  currentLeaderEpoch: -1,
                  timestamp,
                })),
              },
            ],
          },
          { nodeId, apiVersion: version },
        );
        for (const t of response.topics) {
          for (const p of t.partitions) {
            if (p.errorCode !== ErrorCode.NONE)
              throw failed(`ListOffsets for ${topic.name}-${p.partitionIndex}`, p.errorCode);
            offsets.set(p.partitionIndex, p.offset);
          }
        }
      }),
    );
    return offsets;
  }
}
