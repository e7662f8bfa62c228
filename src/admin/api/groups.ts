import type { ProxyRequests } from "../../feature-api/services.ts";
import { findGroupCoordinator } from "../../groups/group-coordinator.ts";
import { fetchGroupOffsets, OFFSET_FETCH_BY_NAME } from "../../groups/group-offsets.ts";
import type { Logger } from "../../log/logger.ts";
import { ApiKey, ErrorCode, fieldVersions, hasField, ZERO_UUID } from "../../protocol/api.ts";
import { decodeConsumerProtocolAssignment } from "../../protocol/generated/index.ts";
import { Reader } from "../../protocol/primitives/reader.ts";
import type { RecordBatchView } from "../../records/batch-view.ts";
import { iterateBatches } from "../../records/iterate.ts";
import { iterateRecords } from "../../records/records.ts";
import type { Topology } from "../../topology/topology.ts";
import { AdminError } from "../routes.ts";

/** ListOffsets' timestamp that asks for the log end (Kafka's ListOffsetsRequest.LATEST_TIMESTAMP). */
const LATEST_TIMESTAMP = -1n;
/** The replica id of a consumer (not a follower). */
const CONSUMER_REPLICA_ID = -1;
const READ_UNCOMMITTED = 0;
/** A fetch outside any fetch session (Kafka's FetchMetadata: session 0, epoch -1). */
const NO_FETCH_SESSION = 0;
const FINAL_FETCH_EPOCH = -1;
/** ListGroups' type of a group of the consumer protocol (KIP-848). */
const CONSUMER_GROUP_TYPE = "consumer";
/** Bytes read per fetch while counting a virtual partition's unread records. */
const COUNT_FETCH_BYTES = 4 * 1024 * 1024;
/** Bytes read at most by one count of a partition's records; past it the lag is the physical estimate. */
const COUNT_MAX_BYTES = 256 * 1024 * 1024;
/** Counted spans kept, so that the next count reads only what the consumer read and what was written since. */
const COUNTED_SPANS_KEPT = 10_000;

/** The records of a virtual partition counted between two offsets. */
interface CountedSpan {
  readonly from: bigint;
  readonly to: bigint;
  readonly count: number;
}

export interface GroupSummary {
  readonly group: string;
  readonly state: string;
  /** "consumer", or "" for a group that only holds committed offsets. */
  readonly protocolType: string;
  /** "classic" (JoinGroup/SyncGroup) or "consumer" (ConsumerGroupHeartbeat, KIP-848). */
  readonly type: string;
}

export interface MemberView {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly host: string;
  /** Partitions in the clients' view: virtual partitions on a virtualized topic. */
  readonly assignment: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: number;
  /** The partition's log end (its high watermark; the physical partition's on a virtualized topic). */
  readonly logEndOffset: number | null;
  /** Records of this partition past the committed offset (counted on a virtualized topic). */
  readonly lag: number | null;
  /** False when the lag could not be counted and is the log end minus the committed offset. */
  readonly exact: boolean;
}

export interface GroupView extends GroupSummary {
  readonly coordinator: number | null;
  readonly members: readonly MemberView[];
  readonly partitions: readonly PartitionLag[];
  readonly totalLag: number;
}

interface Position {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly committed: bigint;
  readonly leader: number;
  readonly virtualized: boolean;
}

function assignmentOf(bytes: Buffer): MemberView["assignment"] {
  if (bytes.length < 2) return [];
  try {
    const reader = new Reader(bytes);
    const decoded = decodeConsumerProtocolAssignment(reader, reader.int16());
    return decoded.assignedPartitions.map((entry) => ({
      topic: entry.topic,
      partitions: [...entry.partitions].sort((a, b) => a - b),
    }));
  } catch {
    return [];
  }
}

/** Records of a batch at offsets in [from, to): all of them unless the batch straddles a bound. */
function recordsBetween(batch: RecordBatchView, from: bigint, to: bigint): number {
  if (batch.baseOffset >= from && batch.lastOffset < to) return batch.recordsCount;
  let count = 0;
  for (const record of iterateRecords(batch)) {
    const offset = batch.baseOffset + BigInt(record.offsetDelta);
    if (offset >= from && offset < to) count++;
  }
  return count;
}

/**
 * Consumer groups in the clients' view, asked through the chain: ListGroups, DescribeGroups or
 * ConsumerGroupDescribe, OffsetFetch and ListOffsets see virtual partitions and virtual node ids. Lag on a
 * virtualized topic is counted: the records of the virtual partition past its committed offset, read through
 * the chain (only the partition's own records come back), since the log end there is the physical partition's.
 */
export class GroupsInspector {
  private readonly topology: Topology;
  private readonly requests: ProxyRequests;
  private readonly log: Logger;
  /** The last count of each virtualized partition, by topic and partition (oldest first). */
  private readonly counted = new Map<string, CountedSpan>();

  constructor(topology: Topology, requests: ProxyRequests, log: Logger) {
    this.topology = topology;
    this.requests = requests;
    this.log = log;
  }

  /** Every group of every broker, once. */
  async list(): Promise<GroupSummary[]> {
    const groups = new Map<string, GroupSummary>();
    const nodes = this.topology.nodes().filter((node) => node.live);
    const answers = await Promise.allSettled(
      nodes.map((node) =>
        this.requests.request(
          ApiKey.ListGroups,
          { statesFilter: [], typesFilter: [] },
          { nodeId: node.nodeId },
        ),
      ),
    );
    answers.forEach((answer, i) => {
      if (answer.status === "rejected") {
        this.log.debug({ nodeId: nodes[i]!.nodeId, err: String(answer.reason) }, "ListGroups failed");
        return;
      }
      for (const listed of answer.value.groups) {
        if (groups.has(listed.groupId)) continue;
        groups.set(listed.groupId, {
          group: listed.groupId,
          state: listed.groupState,
          protocolType: listed.protocolType,
          type: listed.groupType || "classic",
        });
      }
    });
    return [...groups.values()].sort((a, b) => a.group.localeCompare(b.group));
  }

  /** Every group with its members and lag. */
  async describeAll(): Promise<GroupView[]> {
    const listed = await this.list();
    return Promise.all(listed.map((summary) => this.describeListed(summary)));
  }

  /** One group; a 404 AdminError when no broker knows it. */
  async describe(group: string): Promise<GroupView> {
    const summary = (await this.list()).find((candidate) => candidate.group === group);
    if (!summary) throw new AdminError(404, `no group ${group}`);
    return this.describeListed(summary);
  }

  private async describeListed(summary: GroupSummary): Promise<GroupView> {
    const coordinator = await this.coordinatorOf(summary.group);
    const [described, committed] = await Promise.all([
      summary.type === CONSUMER_GROUP_TYPE
        ? this.describeConsumerGroup(summary.group, coordinator)
        : this.describeClassicGroup(summary.group, coordinator),
      this.committedOffsets(summary.group, coordinator),
    ]);
    const partitions = await this.lagOf(committed);
    const totalLag = partitions.reduce((sum, partition) => sum + (partition.lag ?? 0), 0);
    return { ...summary, ...described, coordinator, partitions, totalLag };
  }

  private async coordinatorOf(group: string): Promise<number> {
    const version = await this.topology.admin.versionFor(undefined, ApiKey.FindCoordinator);
    const found = await findGroupCoordinator(this.requests, version, group);
    if (!found || found.errorCode !== ErrorCode.NONE) {
      throw new AdminError(503, `no coordinator for group ${group} (error ${found?.errorCode})`);
    }
    return found.nodeId;
  }

  private async describeClassicGroup(
    group: string,
    coordinator: number,
  ): Promise<Pick<GroupView, "state" | "protocolType" | "members">> {
    const response = await this.requests.request(
      ApiKey.DescribeGroups,
      { groups: [group], includeAuthorizedOperations: false },
      { nodeId: coordinator },
    );
    const described = response.groups[0];
    if (!described || described.errorCode !== ErrorCode.NONE) {
      throw new AdminError(503, `DescribeGroups of ${group} failed (error ${described?.errorCode})`);
    }
    return {
      state: described.groupState,
      protocolType: described.protocolType,
      members: described.members.map((member) => ({
        memberId: member.memberId,
        instanceId: member.groupInstanceId,
        clientId: member.clientId,
        host: member.clientHost,
        assignment: described.protocolType === "consumer" ? assignmentOf(member.memberAssignment) : [],
      })),
    };
  }

  private async describeConsumerGroup(
    group: string,
    coordinator: number,
  ): Promise<Pick<GroupView, "state" | "protocolType" | "members">> {
    const response = await this.requests.request(
      ApiKey.ConsumerGroupDescribe,
      { groupIds: [group], includeAuthorizedOperations: false },
      { nodeId: coordinator },
    );
    const described = response.groups[0];
    if (!described || described.errorCode !== ErrorCode.NONE) {
      throw new AdminError(503, `ConsumerGroupDescribe of ${group} failed (error ${described?.errorCode})`);
    }
    return {
      state: described.groupState,
      protocolType: CONSUMER_GROUP_TYPE,
      members: described.members.map((member) => ({
        memberId: member.memberId,
        instanceId: member.instanceId,
        clientId: member.clientId,
        host: member.clientHost,
        assignment: member.assignment.topicPartitions.map((entry) => ({
          topic: entry.topicName,
          partitions: [...entry.partitions].sort((a, b) => a - b),
        })),
      })),
    };
  }

  /** The group's committed offsets, by topic and partition (partitions with no commit left out). */
  private async committedOffsets(
    group: string,
    coordinator: number,
  ): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    const version = await this.topology.admin.versionFor(
      coordinator,
      ApiKey.OffsetFetch,
      OFFSET_FETCH_BY_NAME,
    );
    const fetched = await fetchGroupOffsets(this.requests, coordinator, version, group, null);
    if (fetched && fetched.errorCode !== ErrorCode.NONE) {
      throw new AdminError(503, `OffsetFetch of ${group} failed (error ${fetched.errorCode})`);
    }
    const topics = fetched?.topics ?? [];
    const out: { topic: string; partition: number; offset: bigint }[] = [];
    for (const topic of topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== ErrorCode.NONE || partition.committedOffset < 0n) continue;
        out.push({
          topic: topic.name,
          partition: partition.partitionIndex,
          offset: partition.committedOffset,
        });
      }
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Leaders, topic ids and whether each topic is virtualized, from Metadata in the clients' view. */
  private async positionsOf(
    committed: readonly { topic: string; partition: number; offset: bigint }[],
  ): Promise<Position[]> {
    const names = [...new Set(committed.map((entry) => entry.topic))];
    if (names.length === 0) return [];
    const metadata = await this.requests.request(ApiKey.Metadata, {
      topics: names.map((name) => ({ topicId: ZERO_UUID, name })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const topics = new Map(metadata.topics.map((topic) => [topic.name, topic]));
    await this.topology.topics.refreshNames(names).catch(() => {});
    const positions: Position[] = [];
    for (const entry of committed) {
      const topic = topics.get(entry.topic);
      const leader = topic?.partitions.find((p) => p.partitionIndex === entry.partition)?.leaderId ?? -1;
      const physical = this.topology.topics.get(entry.topic)?.partitions;
      positions.push({
        topic: entry.topic,
        topicId: topic?.topicId ?? ZERO_UUID,
        partition: entry.partition,
        committed: entry.offset,
        leader,
        virtualized: !!topic && physical !== undefined && physical !== topic.partitions.length,
      });
    }
    return positions;
  }

  private async lagOf(
    committed: readonly { topic: string; partition: number; offset: bigint }[],
  ): Promise<PartitionLag[]> {
    const positions = await this.positionsOf(committed);
    const ends = await this.logEnds(positions);
    return Promise.all(
      positions.map(async (position) => {
        const end = ends.get(`${position.topic}\u0000${position.partition}`);
        const base = {
          topic: position.topic,
          partition: position.partition,
          committedOffset: Number(position.committed),
        };
        if (end === undefined) return { ...base, logEndOffset: null, lag: null, exact: false };
        const estimate = end > position.committed ? Number(end - position.committed) : 0;
        if (!position.virtualized || estimate === 0) {
          return { ...base, logEndOffset: Number(end), lag: estimate, exact: true };
        }
        const counted = await this.countUnread(position, end).catch((error: Error) => {
          this.log.debug(
            { topic: position.topic, partition: position.partition, err: error.message },
            "lag count failed",
          );
          return undefined;
        });
        return counted === undefined
          ? { ...base, logEndOffset: Number(end), lag: estimate, exact: false }
          : { ...base, logEndOffset: Number(end), lag: counted, exact: true };
      }),
    );
  }

  /** Log ends (latest offsets), one ListOffsets per leader. */
  private async logEnds(positions: readonly Position[]): Promise<Map<string, bigint>> {
    const byLeader = new Map<number, Map<string, number[]>>();
    for (const position of positions) {
      if (position.leader < 0) continue;
      let topics = byLeader.get(position.leader);
      if (!topics) byLeader.set(position.leader, (topics = new Map()));
      let partitions = topics.get(position.topic);
      if (!partitions) topics.set(position.topic, (partitions = []));
      partitions.push(position.partition);
    }
    const ends = new Map<string, bigint>();
    await Promise.all(
      [...byLeader].map(async ([leader, topics]) => {
        const response = await this.requests.request(
          ApiKey.ListOffsets,
          {
            replicaId: CONSUMER_REPLICA_ID,
            isolationLevel: READ_UNCOMMITTED,
            timeoutMs: 10_000,
            topics: [...topics].map(([name, partitions]) => ({
              name,
              partitions: partitions.map((partitionIndex) => ({
                partitionIndex,
                currentLeaderEpoch: -1,
                timestamp: LATEST_TIMESTAMP,
              })),
            })),
          },
          { nodeId: leader },
        );
        for (const topic of response.topics) {
          for (const partition of topic.partitions) {
            if (partition.errorCode === ErrorCode.NONE && partition.offset >= 0n) {
              ends.set(`${topic.name}\u0000${partition.partitionIndex}`, partition.offset);
            }
          }
        }
      }),
    );
    return ends;
  }

  /**
   * Records of a virtual partition from its committed offset to `end`. The previous count of the partition is
   * moved rather than redone: the records the consumer read since are taken off and those written since added,
   * so a scrape reads about what flowed since the last one, however far behind the group is.
   */
  private async countUnread(position: Position, end: bigint): Promise<number | undefined> {
    const key = `${position.topic}\u0000${position.partition}`;
    const last = this.counted.get(key);
    this.counted.delete(key);
    let count: number | undefined;
    if (last && last.from <= position.committed && position.committed <= last.to && last.to <= end) {
      const read = await this.countRecords(position, last.from, position.committed);
      const written = read === undefined ? undefined : await this.countRecords(position, last.to, end);
      if (read !== undefined && written !== undefined) count = last.count - read + written;
    } else {
      count = await this.countRecords(position, position.committed, end);
    }
    if (count === undefined) return undefined;
    this.counted.set(key, { from: position.committed, to: end, count });
    if (this.counted.size > COUNTED_SPANS_KEPT) this.counted.delete(this.counted.keys().next().value!);
    return count;
  }

  /**
   * Records of a virtual partition from `from` to `end`: fetched through the chain, which returns only the
   * partition's own records (the others' runs become empty batches); control batches are not records.
   */
  private async countRecords(position: Position, from: bigint, end: bigint): Promise<number | undefined> {
    let offset = from;
    let count = 0;
    let read = 0;
    while (offset < end) {
      if (read > COUNT_MAX_BYTES) return undefined;
      const response = await this.requests.request(
        ApiKey.Fetch,
        {
          clusterId: null,
          replicaId: CONSUMER_REPLICA_ID,
          replicaState: { replicaId: CONSUMER_REPLICA_ID, replicaEpoch: -1n },
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: COUNT_FETCH_BYTES,
          isolationLevel: READ_UNCOMMITTED,
          sessionId: NO_FETCH_SESSION,
          sessionEpoch: FINAL_FETCH_EPOCH,
          topics: [
            {
              topic: position.topic,
              topicId: position.topicId,
              partitions: [
                {
                  partition: position.partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: offset,
                  lastFetchedEpoch: -1,
                  logStartOffset: -1n,
                  partitionMaxBytes: COUNT_FETCH_BYTES,
                  replicaDirectoryId: ZERO_UUID,
                  highWatermark: -1n,
                },
              ],
            },
          ],
          forgottenTopicsData: [],
          rackId: "",
        },
        { nodeId: position.leader },
      );
      const data = response.responses[0]?.partitions[0];
      if (!data || data.errorCode !== ErrorCode.NONE) return undefined;
      const records = data.records;
      if (!records || records.length === 0) return offset >= data.highWatermark ? count : undefined;
      read += records.length;
      let next = offset;
      for (const batch of iterateBatches(records)) {
        if (!("isControl" in batch)) continue; // a partial tail, or a legacy entry (never on a virtualized topic)
        if (batch.nextOffset <= offset) continue;
        if (batch.baseOffset >= end) {
          next = end;
          break;
        }
        if (!batch.isControl) count += recordsBetween(batch, offset, end);
        next = batch.nextOffset;
      }
      if (next <= offset) return undefined;
      offset = next;
    }
    return count;
  }
}
