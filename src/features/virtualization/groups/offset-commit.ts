import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { validateMembership } from "../../../groups/commit-fencing.ts";
import { ApiKey, ErrorCode, hasField, lastVersion, ZERO_UUID } from "../../../protocol/api.ts";
import type {
  OffsetCommitRequest,
  OffsetCommitRequestPartition,
  OffsetCommitRequestTopic,
} from "../../../protocol/generated/messages/offset-commit-request.ts";
import type {
  OffsetCommitResponse,
  OffsetCommitResponsePartition,
  OffsetCommitResponseTopic,
} from "../../../protocol/generated/messages/offset-commit-response.ts";
import { type GroupOutcome, isCoordinatorError } from "../../../topology/group-coordinators.ts";
import type { VirtualizationContext } from "../context.ts";
import { groupOf, physicalOf, type VirtualLayout } from "../mapping/rules.ts";
import { companionGroupOf } from "./companion-groups.ts";

/** Companion commits name their topics (companion groups hold the physical topic under its name). */
const COMPANION_COMMIT_VERSIONS = { max: lastVersion("OffsetCommitRequest", "topics.name") ?? undefined };

type OffsetCommitContext = RequestContext<typeof ApiKey.OffsetCommit>;

/** Where each partition of a commit goes: the real group, a companion group, or nowhere (an error now). */
export interface CommitPlan {
  real: OffsetCommitRequestTopic[];
  /** Companion group index g -> topic name -> partitions, indexed by physical partition. */
  companions: Map<number, Map<string, OffsetCommitRequestPartition[]>>;
  /** Per request topic and partition: "real", a companion g, or an error code. */
  routes: Route[][];
  /** Topic names by request topic index (from the name, or from the topic id where commits carry ids). */
  names: (string | undefined)[];
}

export type Route =
  | { to: "real" }
  | { to: "companion"; group: number; physical: number }
  | { to: "error"; code: number };

function namesTopicsById(version: number): boolean {
  return hasField("OffsetCommitRequest", "topics.topicId", version);
}

/** Errors about one partition only; any other error on a commit speaks for the whole group (fencing, auth, ...). */
export function isPartitionOnlyError(code: number): boolean {
  return (
    code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    code === ErrorCode.UNKNOWN_TOPIC_ID ||
    code === ErrorCode.OFFSET_METADATA_TOO_LARGE ||
    code === ErrorCode.TOPIC_AUTHORIZATION_FAILED
  );
}

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
  const outOfRange = namesTopicsById(version)
    ? ErrorCode.UNKNOWN_TOPIC_ID
    : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  for (const topic of topics) {
    const name = nameOf(topic);
    plan.names.push(name);
    const layout = name === undefined ? undefined : layoutOf(name);
    const routes: Route[] = [];
    plan.routes.push(routes);
    if (name === undefined) {
      // An id the proxy could not resolve may name a virtualized topic: it is never committed as it is.
      for (let i = 0; i < topic.partitions.length; i++)
        routes.push({ to: "error", code: ErrorCode.UNKNOWN_TOPIC_ID });
      continue;
    }
    if (!layout) {
      plan.real.push(topic);
      for (let i = 0; i < topic.partitions.length; i++) routes.push({ to: "real" });
      continue;
    }
    const realPartitions: OffsetCommitRequestPartition[] = [];
    for (const partition of topic.partitions) {
      const v = partition.partitionIndex;
      if (v < 0 || v >= layout.virtualPartitions) {
        routes.push({ to: "error", code: outOfRange });
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

/** Whether a commit touches a virtual partition v >= P; undefined when a topic's name is not known yet. */
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
      if (partition.errorCode !== ErrorCode.NONE && !isPartitionOnlyError(partition.errorCode))
        return partition.errorCode;
    }
  }
  return ErrorCode.NONE;
}

/**
 * OffsetCommit for virtualized topics: group-0 partitions commit natively under the real group, virtual
 * group g >= 1 under its companion group as simple commits for the physical partition. The real group's
 * commit (or, without group-0 partitions, a membership check) goes first; companions commit only when the
 * broker accepted the member, so a fenced member never moves any offset.
 */
export class VirtualOffsetCommit implements ApiHandler<typeof ApiKey.OffsetCommit> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  onRequest(request: OffsetCommitRequest, exchange: OffsetCommitContext): Promise<OffsetCommitResponse> {
    const nameOf = this.nameResolver(exchange.apiVersion);
    const needed = needsCompanions(request.topics, nameOf, (name) => this.context.rules.layoutOf(name));
    if (needed === false) return exchange.next(request);
    return this.commit(exchange, request);
  }

  private nameResolver(version: number): (topic: { name: string; topicId: string }) => string | undefined {
    if (!namesTopicsById(version)) return (topic) => topic.name;
    return (topic) => this.context.topics.nameOf(topic.topicId);
  }

  private async commit(
    exchange: OffsetCommitContext,
    request: OffsetCommitRequest,
  ): Promise<OffsetCommitResponse> {
    const version = exchange.apiVersion;
    if (namesTopicsById(version)) {
      await this.context.topics.resolveIds(request.topics.map((t) => t.topicId)).catch(() => undefined);
    }
    const plan = planCommit(request.topics, version, this.nameResolver(version), (name) =>
      this.context.rules.layoutOf(name),
    );
    let throttleTimeMs = 0;
    let realAnswer: OffsetCommitResponse | undefined;
    let verdict: number;
    if (plan.real.length > 0) {
      realAnswer = await exchange.next({ ...request, topics: plan.real });
      throttleTimeMs = realAnswer.throttleTimeMs;
      verdict = groupLevelError(realAnswer);
    } else {
      verdict = await validateMembership(exchange, this.context.admin, request, version);
    }
    let companionErrors = new Map<string, number>();
    if (verdict === ErrorCode.NONE && plan.companions.size > 0) {
      companionErrors = await this.commitCompanions(exchange, request.groupId, plan.companions);
    } else if (verdict !== ErrorCode.NONE && plan.companions.size > 0) {
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
    exchange: OffsetCommitContext,
    groupId: string,
    companions: Map<number, Map<string, OffsetCommitRequestPartition[]>>,
  ): Promise<Map<string, number>> {
    const byName = new Map<string, number>();
    for (const g of companions.keys()) byName.set(companionGroupOf(groupId, g), g);
    const outcomes = await this.context.coordinators.forEachCoordinator<Map<string, number>>(
      [...byName.keys()],
      async (nodeId, groups) => {
        const version = await this.context.admin.versionFor(
          nodeId,
          ApiKey.OffsetCommit,
          COMPANION_COMMIT_VERSIONS,
        );
        const answers = await Promise.all(
          groups.map(async (group) => {
            const topics = [...companions.get(byName.get(group)!)!].map(([name, partitions]) => ({
              name,
              topicId: ZERO_UUID,
              partitions,
            }));
            const response = await exchange.send(
              ApiKey.OffsetCommit,
              version,
              {
                groupId: group,
                generationIdOrMemberEpoch: -1,
                memberId: "",
                groupInstanceId: null,
                retentionTimeMs: -1n,
                topics,
              },
              { nodeId },
            );
            const errors = new Map<string, number>();
            let errorCode: number = ErrorCode.NONE;
            for (const topic of response.topics) {
              for (const partition of topic.partitions) {
                if (partition.errorCode === ErrorCode.NONE) continue;
                errors.set(`${topic.name}/${partition.partitionIndex}`, partition.errorCode);
                if (errorCode === ErrorCode.NONE || isCoordinatorError(partition.errorCode))
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
          if (code !== undefined && code !== ErrorCode.NONE)
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
  const byId = namesTopicsById(version);
  const realErrors = new Map<string, number>();
  if (realAnswer) {
    for (const topic of realAnswer.topics) {
      const key = byId ? topic.topicId : topic.name;
      for (const partition of topic.partitions)
        realErrors.set(`${key}/${partition.partitionIndex}`, partition.errorCode);
    }
  }
  const out: OffsetCommitResponseTopic[] = [];
  for (let t = 0; t < topics.length; t++) {
    const topic = topics[t]!;
    const key = byId ? topic.topicId : topic.name;
    const name = plan.names[t];
    const partitions: OffsetCommitResponsePartition[] = [];
    for (let i = 0; i < topic.partitions.length; i++) {
      const partitionIndex = topic.partitions[i]!.partitionIndex;
      const route = plan.routes[t]![i]!;
      let errorCode: number;
      if (route.to === "error") errorCode = route.code;
      else if (route.to === "real") errorCode = realErrors.get(`${key}/${partitionIndex}`) ?? verdict;
      else if (verdict !== ErrorCode.NONE) errorCode = verdict;
      else errorCode = companionErrors.get(`${route.group}/${name}/${route.physical}`) ?? ErrorCode.NONE;
      partitions.push({ partitionIndex, errorCode });
    }
    out.push({ name: topic.name, topicId: topic.topicId, partitions });
  }
  return { throttleTimeMs, topics: out };
}
