/**
 * One online reset of a group's committed offsets: the targets in the clients' view, the fence against stale
 * commits, the commit made as a live member, the members told to fetch their offsets again, and the record
 * that makes a retried reset answer the first one's result.
 */
import { randomUUID } from "node:crypto";
import { AdminError } from "../../admin/routes.ts";
import type { ProxyRequests } from "../../feature-api/services.ts";
import type { Logger } from "../../log/logger.ts";
import { ApiKey, ErrorCode, kafkaError, ZERO_UUID } from "../../protocol/api.ts";
import {
  EARLIEST_TIMESTAMP,
  GroupReader,
  type GroupView,
  LATEST_TIMESTAMP,
  NO_OFFSET,
  OFFSET_COMMIT_BY_NAME,
  type TopicView,
  type VersionFor,
} from "./group-view.ts";
import { Fence, type HostedGroups } from "./hosted-members.ts";
import type { ResetRequest, ResetTarget } from "./reset-request.ts";

/** Where a reset records what it did: a group of its own per reset group, with no members. */
export const RESET_RECORD_GROUP_PREFIX = "__kpp-reset.";
const RESET_METADATA_PREFIX = "kpp-reset:";
/** Errors a commit made as a member meets while the group rebalances: read the generation again and retry. */
const COMMIT_RETRY_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

export interface ResetTimings {
  /** How long commits already on their way to the broker may take before the reset goes ahead. */
  readonly inFlightMs: number;
  /** How long a commit as a member may be retried while the group rebalances. */
  readonly commitMs: number;
  /** How long the answer waits for every member to re-sync. */
  readonly resyncMs: number;
  /** How long stale commits stay held back for members that have not re-synced when the answer is given. */
  readonly fenceMs: number;
}

export const DEFAULT_TIMINGS: ResetTimings = {
  inFlightMs: 30_000,
  commitMs: 30_000,
  resyncMs: 90_000,
  fenceMs: 300_000,
};

export interface PartitionReset {
  readonly partition: number;
  /** The committed offset before the reset; null when there was none. */
  readonly old: string | null;
  readonly new: string;
}

export interface ResetAnswer {
  readonly id: string;
  readonly group: string;
  readonly topic: string;
  readonly dryRun: boolean;
  /** True when this answer is a reset applied earlier with the same id, not applied again. */
  readonly repeated: boolean;
  readonly partitions: readonly PartitionReset[];
  /** The members that were told to fetch their offsets again, and whether each has done so. */
  readonly members: readonly { readonly memberId: string; readonly resynced: boolean }[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function within<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

function clamp(value: bigint, low: bigint, high: bigint): bigint {
  return value < low ? low : value > high ? high : value;
}

/** The offset `to` names for one partition, kept between the log's earliest and latest offsets. */
export function targetOffset(
  to: ResetTarget,
  committed: bigint,
  earliest: bigint,
  latest: bigint,
  atTimestamp: bigint | undefined,
): bigint {
  switch (to.kind) {
    case "earliest":
      return earliest;
    case "latest":
      return latest;
    case "timestamp":
      return atTimestamp === undefined || atTimestamp === NO_OFFSET
        ? latest
        : clamp(atTimestamp, earliest, latest);
    case "offset":
      return clamp(to.offset, earliest, latest);
    case "shift":
      return clamp((committed === NO_OFFSET ? earliest : committed) + to.shift, earliest, latest);
  }
}

export class OffsetResets {
  private readonly reader: GroupReader;
  private readonly requests: ProxyRequests;
  private readonly versionFor: VersionFor;
  private readonly groups: HostedGroups;
  private readonly log: Logger;
  private readonly timings: ResetTimings;
  /** One reset at a time per group. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    requests: ProxyRequests,
    versionFor: VersionFor,
    groups: HostedGroups,
    log: Logger,
    timings: ResetTimings = DEFAULT_TIMINGS,
  ) {
    this.requests = requests;
    this.versionFor = versionFor;
    this.reader = new GroupReader(requests, versionFor);
    this.groups = groups;
    this.log = log;
    this.timings = timings;
  }

  async reset(groupId: string, request: ResetRequest): Promise<ResetAnswer> {
    const previous = this.running.get(groupId);
    if (previous) throw new AdminError(409, `a reset of group ${groupId} is already under way`);
    const run = this.run(groupId, request);
    this.running.set(groupId, run);
    try {
      return await run;
    } finally {
      this.running.delete(groupId);
    }
  }

  private async run(groupId: string, request: ResetRequest): Promise<ResetAnswer> {
    const topic = await this.reader.topic(request.topic);
    const partitions = request.partitions ?? [...topic.leaders.keys()].sort((a, b) => a - b);
    const unknown = partitions.filter((p) => !topic.leaders.has(p));
    if (unknown.length > 0)
      throw new AdminError(
        400,
        `partitions: ${request.topic} has partitions 0-${topic.leaders.size - 1}, not ${unknown.join(", ")}`,
      );
    const coordinator = await this.reader.coordinator(groupId);
    const id = request.id ?? randomUUID();
    if (request.id && !request.dryRun) {
      const recorded = await this.recorded(groupId, topic, partitions, request.id);
      if (recorded) return recorded;
    }
    const group = await this.reader.group(groupId, coordinator);
    const hosted = this.groups.group(groupId);
    // Members that left without a LeaveGroup (a crash, a session that expired) are forgotten here.
    const current = new Set(group.members.map((m) => m.memberId));
    for (const memberId of [...hosted.members.keys()])
      if (!current.has(memberId)) hosted.members.delete(memberId);
    if (!request.dryRun) {
      const foreign = group.members.filter((m) => !hosted.members.has(m.memberId));
      if (foreign.length > 0) {
        const named = foreign.map((m) => `${m.memberId} (client id ${m.clientId}, host ${m.clientHost})`);
        throw new AdminError(
          409,
          `group ${groupId} has members that are not connected through this proxy instance, so they cannot be ` +
            `re-positioned while they run: ${named.join("; ")}. Stop them, or reset through the instance they use`,
        );
      }
    }
    const fence = request.dryRun
      ? undefined
      : new Fence({ topic: topic.name, topicId: topic.topicId, partitions: new Set(partitions) });
    if (fence) {
      hosted.fences.add(fence);
      const inFlight = [...hosted.commitsInFlight];
      if (!(await within(Promise.allSettled(inFlight), this.timings.inFlightMs)))
        this.log.warn(
          { group: groupId },
          "offset reset: commits on their way to the broker did not finish in time",
        );
    }
    let released = true;
    try {
      const resets = await this.targets(groupId, coordinator, topic, partitions, request.to);
      if (!fence) return this.answer(id, groupId, topic, true, false, resets, []);
      await this.commit(groupId, coordinator, topic, group, resets, id);
      const steered = group.members.map((m) => m.memberId);
      fence.steer(steered);
      this.log.info(
        { group: groupId, topic: topic.name, id, members: steered.length },
        "offset reset committed; members told to fetch their offsets again",
      );
      const allResynced = await within(fence.released, this.timings.resyncMs);
      const waiting = new Set(fence.waitingFor);
      if (!allResynced) {
        released = false;
        this.log.warn(
          { group: groupId, waitingFor: [...waiting] },
          "offset reset: members did not re-sync in time; their stale commits stay held back",
        );
        void within(fence.released, this.timings.fenceMs).then(() => hosted.fences.delete(fence));
      }
      await this.record(groupId, topic, resets, id);
      return this.answer(
        id,
        groupId,
        topic,
        false,
        false,
        resets,
        steered.map((memberId) => ({ memberId, resynced: !waiting.has(memberId) })),
      );
    } finally {
      if (fence && released) hosted.fences.delete(fence);
    }
  }

  private answer(
    id: string,
    group: string,
    topic: TopicView,
    dryRun: boolean,
    repeated: boolean,
    partitions: PartitionReset[],
    members: ResetAnswer["members"],
  ): ResetAnswer {
    return { id, group, topic: topic.name, dryRun, repeated, partitions, members };
  }

  private async targets(
    groupId: string,
    coordinator: number,
    topic: TopicView,
    partitions: readonly number[],
    to: ResetTarget,
  ): Promise<PartitionReset[]> {
    const [committed, earliest, latest, atTimestamp] = await Promise.all([
      this.reader.committed(groupId, coordinator, topic, partitions),
      this.reader.logOffsets(topic, partitions, EARLIEST_TIMESTAMP),
      this.reader.logOffsets(topic, partitions, LATEST_TIMESTAMP),
      to.kind === "timestamp" ? this.reader.logOffsets(topic, partitions, to.timestamp) : undefined,
    ]);
    return partitions.map((partition) => {
      const old = committed.get(partition)?.offset ?? NO_OFFSET;
      const target = targetOffset(
        to,
        old,
        earliest.get(partition) ?? 0n,
        latest.get(partition) ?? 0n,
        atTimestamp?.get(partition),
      );
      return { partition, old: old === NO_OFFSET ? null : String(old), new: String(target) };
    });
  }

  /**
   * Commits the targets. A group with members takes commits only from a current member, so the commit carries a
   * hosted member's id with its generation (classic) or member epoch (KIP-848); an empty group takes an admin
   * commit. Retried while the group rebalances.
   */
  private async commit(
    groupId: string,
    coordinator: number,
    topic: TopicView,
    group: GroupView,
    resets: readonly PartitionReset[],
    id: string,
  ): Promise<void> {
    const hosted = this.groups.group(groupId);
    const deadline = Date.now() + this.timings.commitMs;
    for (;;) {
      let memberId = "";
      let generation = -1;
      const described = group.members[0];
      if (described) {
        memberId = described.memberId;
        generation = hosted.members.get(memberId)?.generation ?? described.memberEpoch ?? -1;
      }
      const errorCode = await this.commitAs(groupId, coordinator, topic, memberId, generation, resets, id);
      if (errorCode === ErrorCode.NONE) return;
      if (!COMMIT_RETRY_ERRORS.has(errorCode) || Date.now() > deadline)
        throw new AdminError(
          503,
          `committing the reset offsets of group ${groupId} failed: ${kafkaError(errorCode)?.name ?? errorCode}`,
        );
      await sleep(250);
      group = await this.reader.group(groupId, coordinator);
    }
  }

  private async commitAs(
    groupId: string,
    coordinator: number,
    topic: TopicView,
    memberId: string,
    generation: number,
    resets: readonly PartitionReset[],
    id: string,
    metadataOf: (reset: PartitionReset) => string = () => `${RESET_METADATA_PREFIX}${id}`,
  ): Promise<number> {
    const version = await this.versionFor(coordinator, ApiKey.OffsetCommit, OFFSET_COMMIT_BY_NAME);
    const response = await this.requests.request(
      ApiKey.OffsetCommit,
      {
        groupId,
        generationIdOrMemberEpoch: generation,
        memberId,
        groupInstanceId: null,
        retentionTimeMs: -1n,
        topics: [
          {
            name: topic.name,
            topicId: ZERO_UUID,
            partitions: resets.map((reset) => ({
              partitionIndex: reset.partition,
              committedOffset: BigInt(reset.new),
              committedLeaderEpoch: -1,
              committedMetadata: metadataOf(reset),
            })),
          },
        ],
      },
      { nodeId: coordinator, apiVersion: version },
    );
    for (const t of response.topics)
      for (const p of t.partitions) if (p.errorCode !== ErrorCode.NONE) return p.errorCode;
    return ErrorCode.NONE;
  }

  /** Writes what the reset did to its record group, one partition's old and new offset in each slot's metadata. */
  private async record(groupId: string, topic: TopicView, resets: readonly PartitionReset[], id: string) {
    const recordGroup = `${RESET_RECORD_GROUP_PREFIX}${groupId}`;
    try {
      const coordinator = await this.reader.coordinator(recordGroup);
      const errorCode = await this.commitAs(recordGroup, coordinator, topic, "", -1, resets, id, (reset) =>
        JSON.stringify({ id, old: reset.old, new: reset.new }),
      );
      if (errorCode !== ErrorCode.NONE) throw new Error(kafkaError(errorCode)?.name ?? String(errorCode));
    } catch (error) {
      this.log.warn(
        { group: groupId, id, err: (error as Error).message },
        "offset reset applied, but its record was not written: a retry with the same id would apply it again",
      );
    }
  }

  /** The earlier reset with this id, when every partition's record slot names it. */
  private async recorded(
    groupId: string,
    topic: TopicView,
    partitions: readonly number[],
    id: string,
  ): Promise<ResetAnswer | undefined> {
    const recordGroup = `${RESET_RECORD_GROUP_PREFIX}${groupId}`;
    const coordinator = await this.reader.coordinator(recordGroup);
    const slots = await this.reader.committed(recordGroup, coordinator, topic, partitions);
    const resets: PartitionReset[] = [];
    for (const partition of partitions) {
      const metadata = slots.get(partition)?.metadata;
      if (!metadata) return undefined;
      let slot: { id?: unknown; old?: unknown; new?: unknown };
      try {
        slot = JSON.parse(metadata) as typeof slot;
      } catch {
        return undefined;
      }
      if (slot.id !== id) return undefined;
      resets.push({ partition, old: typeof slot.old === "string" ? slot.old : null, new: String(slot.new) });
    }
    return this.answer(id, groupId, topic, false, true, resets, []);
  }
}
