import type {
  OffsetCommitRequest,
  OffsetCommitRequestPartition,
  OffsetCommitRequestTopic,
} from "../../protocol/generated/messages/offset-commit-request.ts";
import type {
  OffsetCommitResponse,
  OffsetCommitResponsePartition,
  OffsetCommitResponseTopic,
} from "../../protocol/generated/messages/offset-commit-response.ts";
import type { Exchange, RequestInterceptor } from "../../proxy/feature.ts";
import { validateMembership } from "./commit-fencing.ts";
import { companionGroupOf } from "./companion-groups.ts";
import type { VirtualizationContext } from "./context.ts";
import type { GroupCoordinators, GroupOutcome } from "./group-coordinators.ts";
import {
  isCoordinatorError,
  isPartitionOnlyError,
  NONE,
  UNKNOWN_TOPIC_ID,
  UNKNOWN_TOPIC_OR_PARTITION,
} from "./group-error-codes.ts";
import { groupOf, physicalOf, type VirtualLayout } from "./rules.ts";

const OFFSET_COMMIT = 8;
/** Companion commits use names (v8-9 work on every broker the project supports). */
const COMPANION_COMMIT_VERSION = 8;
const TOPIC_IDS_VERSION = 10;

/** Where each partition of a commit goes: the real group, a companion group, or nowhere (an error now). */
export interface CommitPlan {
  real: OffsetCommitRequestTopic[];
  /** Companion group index g -> topic name -> partitions, indexed by physical partition. */
  companions: Map<number, Map<string, OffsetCommitRequestPartition[]>>;
  /** Per request topic and partition: "real", a companion g, or an error code. */
  routes: Route[][];
  /** Topic names by request topic index (from the name, or the topic id at v10+). */
  names: (string | undefined)[];
}

export type Route =
  | { to: "real" }
  | { to: "companion"; group: number; physical: number }
  | { to: "error"; code: number };

/**
 * Splits a commit by virtual group. `nameOf` gives each topic's name (undefined for an unknown topic id).
 * Partitions of non-virtualized topics and of virtual group 0 stay in the real group.
 */
export function planCommit(
  topics: OffsetCommitRequestTopic[],
  version: number,
  nameOf: (topic: OffsetCommitRequestTopic) => string | undefined,
  layoutOf: (name: string) => VirtualLayout | undefined,
): CommitPlan {
  const plan: CommitPlan = { real: [], companions: new Map(), routes: [], names: [] };
  for (const topic of topics) {
    const name = nameOf(topic);
    plan.names.push(name);
    const layout = name === undefined ? undefined : layoutOf(name);
    const routes: Route[] = [];
    plan.routes.push(routes);
    if (!layout) {
      plan.real.push(topic);
      for (let i = 0; i < topic.partitions.length; i++) routes.push({ to: "real" });
      continue;
    }
    const realPartitions: OffsetCommitRequestPartition[] = [];
    for (const partition of topic.partitions) {
      const v = partition.partitionIndex;
      if (v < 0 || v >= layout.virtualPartitions) {
        routes.push({
          to: "error",
          code: version >= TOPIC_IDS_VERSION ? UNKNOWN_TOPIC_ID : UNKNOWN_TOPIC_OR_PARTITION,
        });
        continue;
      }
      const g = groupOf(layout, v);
      if (g === 0) {
        realPartitions.push(partition);
        routes.push({ to: "real" });
        continue;
      }
      const p = physicalOf(layout, v);
      let byTopic = plan.companions.get(g);
      if (!byTopic) plan.companions.set(g, (byTopic = new Map()));
      let partitions = byTopic.get(layout.topic);
      if (!partitions) byTopic.set(layout.topic, (partitions = []));
      partitions.push({ ...partition, partitionIndex: p });
      routes.push({ to: "companion", group: g, physical: p });
    }
    if (realPartitions.length > 0) plan.real.push({ ...topic, partitions: realPartitions });
  }
  return plan;
}

export function needsCompanions(
  topics: OffsetCommitRequestTopic[],
  nameOf: (topic: OffsetCommitRequestTopic) => string | undefined,
  layoutOf: (name: string) => VirtualLayout | undefined,
): boolean | undefined {
  for (const topic of topics) {
    const name = nameOf(topic);
    if (name === undefined) return undefined;
    const layout = layoutOf(name);
    if (layout && topic.partitions.some((p) => p.partitionIndex >= layout.physicalPartitions)) return true;
  }
  return false;
}

/** The first error in a real-group commit answer that speaks for the whole group (fencing, coordinator, ...). */
export function groupLevelError(response: OffsetCommitResponse): number {
  for (const topic of response.topics) {
    for (const partition of topic.partitions) {
      if (partition.errorCode !== NONE && !isPartitionOnlyError(partition.errorCode))
        return partition.errorCode;
    }
  }
  return NONE;
}

/**
 * OffsetCommit for virtualized topics: group-0 partitions commit natively under the real group, virtual
 * group g >= 1 under its companion group as simple commits for the physical partition. The real group's
 * commit (or, without group-0 partitions, a membership check) goes first; companions commit only when the
 * broker accepted the member, so a fenced member never moves any offset.
 */
export class VirtualOffsetCommit implements RequestInterceptor {
  readonly name = "virtualization-offset-commit";
  readonly interceptApiKeys = [OFFSET_COMMIT];
  private readonly context: VirtualizationContext;
  private readonly coordinators: GroupCoordinators;

  constructor(context: VirtualizationContext, coordinators: GroupCoordinators) {
    this.context = context;
    this.coordinators = coordinators;
  }

  intercept(exchange: Exchange): Promise<OffsetCommitResponse> | undefined {
    const request = exchange.request as OffsetCommitRequest;
    const nameOf = this.nameResolver(exchange.apiVersion);
    const needed = needsCompanions(request.topics, nameOf, (name) => this.context.rules.layoutOf(name));
    if (needed === false) return undefined;
    return this.commit(exchange, request);
  }

  private nameResolver(version: number): (topic: { name: string; topicId: string }) => string | undefined {
    if (version < TOPIC_IDS_VERSION) return (topic) => topic.name;
    return (topic) => this.context.topics.nameOf(topic.topicId);
  }

  private async commit(exchange: Exchange, request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const version = exchange.apiVersion;
    if (version >= TOPIC_IDS_VERSION) {
      await this.context.topics.resolveIds(request.topics.map((t) => t.topicId)).catch(() => undefined);
    }
    const plan = planCommit(request.topics, version, this.nameResolver(version), (name) =>
      this.context.rules.layoutOf(name),
    );
    let throttleTimeMs = 0;
    let realAnswer: OffsetCommitResponse | undefined;
    let verdict: number;
    if (plan.real.length > 0) {
      realAnswer = (await exchange.send(OFFSET_COMMIT, version, {
        ...request,
        topics: plan.real,
      })) as OffsetCommitResponse;
      throttleTimeMs = realAnswer.throttleTimeMs;
      verdict = groupLevelError(realAnswer);
    } else {
      verdict = await validateMembership(exchange, request, version);
    }
    let companionErrors = new Map<string, number>();
    if (verdict === NONE && plan.companions.size > 0) {
      companionErrors = await this.commitCompanions(exchange, request.groupId, plan.companions);
    } else if (verdict !== NONE && plan.companions.size > 0) {
      exchange.log.debug(
        { group: request.groupId, errorCode: verdict },
        "commit refused by the group coordinator; companion partitions not committed",
      );
    }
    return assembleResponse(
      request.topics,
      plan,
      realAnswer,
      verdict,
      companionErrors,
      throttleTimeMs,
      version,
    );
  }

  /** Commits every companion group's partitions; returns error codes keyed by `g/topic/p` (absent = NONE). */
  private async commitCompanions(
    exchange: Exchange,
    groupId: string,
    companions: Map<number, Map<string, OffsetCommitRequestPartition[]>>,
  ): Promise<Map<string, number>> {
    const byName = new Map<string, number>();
    for (const g of companions.keys()) byName.set(companionGroupOf(groupId, g), g);
    const outcomes = await this.coordinators.forEachCoordinator<Map<string, number>>(
      [...byName.keys()],
      async (nodeId, groups) => {
        const answers = await Promise.all(
          groups.map(async (group) => {
            const topics = [...companions.get(byName.get(group)!)!].map(([name, partitions]) => ({
              name,
              topicId: "",
              partitions,
            }));
            const response = (await exchange.sendToNode(nodeId, OFFSET_COMMIT, COMPANION_COMMIT_VERSION, {
              groupId: group,
              generationIdOrMemberEpoch: -1,
              memberId: "",
              groupInstanceId: null,
              retentionTimeMs: -1n,
              topics,
            })) as OffsetCommitResponse;
            const errors = new Map<string, number>();
            let errorCode = NONE;
            for (const topic of response.topics) {
              for (const partition of topic.partitions) {
                if (partition.errorCode === NONE) continue;
                errors.set(`${topic.name}/${partition.partitionIndex}`, partition.errorCode);
                if (errorCode === NONE || isCoordinatorError(partition.errorCode))
                  errorCode = partition.errorCode;
              }
            }
            return [group, { errorCode, result: errors }] as [string, GroupOutcome<Map<string, number>>];
          }),
        );
        return new Map(answers);
      },
      (errorCode) => new Map([["*", errorCode]]),
    );
    const errors = new Map<string, number>();
    for (const [group, result] of outcomes) {
      const g = byName.get(group)!;
      const all = result.get("*");
      for (const [name, partitions] of companions.get(g)!) {
        for (const partition of partitions) {
          const code = all ?? result.get(`${name}/${partition.partitionIndex}`);
          if (code !== undefined && code !== NONE)
            errors.set(`${g}/${name}/${partition.partitionIndex}`, code);
        }
      }
    }
    return errors;
  }
}

function assembleResponse(
  topics: OffsetCommitRequestTopic[],
  plan: CommitPlan,
  realAnswer: OffsetCommitResponse | undefined,
  verdict: number,
  companionErrors: Map<string, number>,
  throttleTimeMs: number,
  version: number,
): OffsetCommitResponse {
  const realErrors = new Map<string, number>();
  if (realAnswer) {
    for (const topic of realAnswer.topics) {
      const key = version >= TOPIC_IDS_VERSION ? topic.topicId : topic.name;
      for (const partition of topic.partitions)
        realErrors.set(`${key}/${partition.partitionIndex}`, partition.errorCode);
    }
  }
  const out: OffsetCommitResponseTopic[] = [];
  for (let t = 0; t < topics.length; t++) {
    const topic = topics[t]!;
    const key = version >= TOPIC_IDS_VERSION ? topic.topicId : topic.name;
    const name = plan.names[t];
    const partitions: OffsetCommitResponsePartition[] = [];
    for (let i = 0; i < topic.partitions.length; i++) {
      const partitionIndex = topic.partitions[i]!.partitionIndex;
      const route = plan.routes[t]![i]!;
      let errorCode: number;
      if (route.to === "error") errorCode = route.code;
      else if (route.to === "real") errorCode = realErrors.get(`${key}/${partitionIndex}`) ?? verdict;
      else if (verdict !== NONE) errorCode = verdict;
      else errorCode = companionErrors.get(`${route.group}/${name}/${route.physical}`) ?? NONE;
      partitions.push({ partitionIndex, errorCode });
    }
    out.push({ name: topic.name, topicId: topic.topicId, partitions });
  }
  return { throttleTimeMs, topics: out };
}
