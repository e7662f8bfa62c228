import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { ApiKey, ErrorCode, firstVersion, hasField, lastVersion, ZERO_UUID } from "../../../protocol/api.ts";
import type {
  OffsetFetchRequest,
  OffsetFetchRequestGroup,
} from "../../../protocol/generated/messages/offset-fetch-request.ts";
import type { OffsetFetchResponse } from "../../../protocol/generated/messages/offset-fetch-response.ts";
import type { GroupOutcome } from "../../../topology/group-coordinators.ts";
import type { VirtualizationContext } from "../context.ts";
import { groupOf, physicalOf, type VirtualLayout, virtualOf } from "../mapping/rules.ts";
import { companionGroupOf } from "./companion-groups.ts";
import type { MaxGroupsCatalog } from "./max-groups-catalog.ts";

/** Companion fetches batch groups and name their topics. */
const COMPANION_FETCH_VERSIONS = {
  min: firstVersion("OffsetFetchRequest", "groups"),
  max: lastVersion("OffsetFetchRequest", "groups.topics.name") ?? undefined,
};

type OffsetFetchContext = RequestContext<typeof ApiKey.OffsetFetch>;

/** The multi-group form (v8+): `groups` instead of one `groupId` with its `topics`. */
function fetchesManyGroups(version: number): boolean {
  return hasField("OffsetFetchRequest", "groups", version);
}

function namesTopicsById(version: number): boolean {
  return hasField("OffsetFetchRequest", "groups.topics.topicId", version);
}

export interface FetchTopic {
  name: string;
  topicId: string;
  partitionIndexes: number[];
}

export interface FetchGroup {
  groupId: string;
  memberId: string | null;
  memberEpoch: number;
  topics: FetchTopic[] | null;
}

export interface FetchedPartition {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface FetchedTopic {
  name: string;
  topicId: string;
  partitions: FetchedPartition[];
}

export interface FetchedGroup {
  groupId: string;
  errorCode: number;
  topics: FetchedTopic[];
}

/** Which companion partitions one group's fetch needs: g -> topic -> physical partitions (null = all topics). */
export type CompanionNeeds = Map<number, Map<string, Set<number>> | null>;

export function noOffset(partitionIndex: number): FetchedPartition {
  return {
    partitionIndex,
    committedOffset: -1n,
    committedLeaderEpoch: -1,
    metadata: "",
    errorCode: ErrorCode.NONE,
  };
}

/** Splits one group's requested partitions into the real group's request and the companions' needs. */
export function planFetch(
  group: FetchGroup,
  nameOf: (topic: FetchTopic) => string | undefined,
  layoutOf: (name: string) => VirtualLayout | undefined,
  maxGroups: number,
): { real: FetchTopic[] | null; companions: CompanionNeeds } {
  const companions: CompanionNeeds = new Map();
  if (group.topics === null) {
    for (let g = 1; g < maxGroups; g++) companions.set(g, null);
    return { real: null, companions };
  }
  const real: FetchTopic[] = [];
  for (const topic of group.topics) {
    const name = nameOf(topic);
    const layout = name === undefined ? undefined : layoutOf(name);
    if (!layout) {
      real.push(topic);
      continue;
    }
    const kept: number[] = [];
    for (const v of topic.partitionIndexes) {
      if (v < 0 || v >= layout.virtualPartitions) continue;
      const g = groupOf(layout, v);
      if (g === 0) {
        kept.push(v);
        continue;
      }
      let byTopic = companions.get(g);
      if (!byTopic) companions.set(g, (byTopic = new Map()));
      let partitions = byTopic.get(layout.topic);
      if (!partitions) byTopic.set(layout.topic, (partitions = new Set()));
      partitions.add(physicalOf(layout, v));
    }
    if (kept.length > 0) real.push({ ...topic, partitionIndexes: kept });
  }
  return { real, companions };
}

/**
 * Puts one group's answer together in the virtual view. `companions` holds each companion group's answer
 * (topics by name, physical partitions). For a request naming topics, the answer follows the request; for
 * "all topics", every committed virtual partition of a virtualized topic is added to the real group's answer.
 */
export function mergeFetch(
  group: FetchGroup,
  realAnswer: FetchedGroup,
  companions: Map<number, FetchedTopic[]>,
  nameOf: (topic: { name: string; topicId: string }) => string | undefined,
  idOf: (name: string) => string | undefined,
  layoutOf: (name: string) => VirtualLayout | undefined,
): FetchedGroup {
  const companionIndex = new Map<string, FetchedPartition>();
  if (group.topics !== null) {
    for (const [g, answer] of companions) {
      for (const topic of answer) {
        for (const partition of topic.partitions)
          companionIndex.set(`${g}/${topic.name}/${partition.partitionIndex}`, partition);
      }
    }
  }
  const companionEntry = (g: number, name: string, p: number) => companionIndex.get(`${g}/${name}/${p}`);
  if (group.topics === null) {
    const topics = realAnswer.topics.map((t) => ({ ...t, partitions: [...t.partitions] }));
    for (const [g, answer] of companions) {
      for (const companionTopic of answer) {
        const layout = layoutOf(companionTopic.name);
        if (!layout || g >= layout.groups) continue;
        const committed = companionTopic.partitions.filter(
          (p) => p.committedOffset >= 0n && p.partitionIndex < layout.physicalPartitions,
        );
        if (committed.length === 0) continue;
        let topic = topics.find((t) => nameOf(t) === companionTopic.name);
        if (!topic) {
          topic = {
            name: companionTopic.name,
            topicId: idOf(companionTopic.name) ?? ZERO_UUID,
            partitions: [],
          };
          topics.push(topic);
        }
        for (const p of committed) {
          topic.partitions.push({ ...p, partitionIndex: virtualOf(layout, p.partitionIndex, g) });
        }
      }
    }
    for (const topic of topics) topic.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
    return { groupId: group.groupId, errorCode: realAnswer.errorCode, topics };
  }
  const topics: FetchedTopic[] = [];
  for (const requested of group.topics) {
    const name = nameOf(requested);
    const layout = name === undefined ? undefined : layoutOf(name);
    const realTopic = realAnswer.topics.find((t) =>
      requested.topicId && !requested.name ? t.topicId === requested.topicId : t.name === requested.name,
    );
    const realPartitions = new Map((realTopic?.partitions ?? []).map((p) => [p.partitionIndex, p]));
    const partitions: FetchedPartition[] = [];
    for (const v of requested.partitionIndexes) {
      if (layout && (v < 0 || v >= layout.virtualPartitions)) {
        partitions.push(noOffset(v));
        continue;
      }
      const g = layout ? groupOf(layout, v) : 0;
      const found =
        g === 0 ? realPartitions.get(v) : companionEntry(g, layout!.topic, physicalOf(layout!, v));
      partitions.push(found ? { ...found, partitionIndex: v } : noOffset(v));
    }
    topics.push({ name: requested.name, topicId: requested.topicId, partitions });
  }
  return { groupId: group.groupId, errorCode: realAnswer.errorCode, topics };
}

/**
 * OffsetFetch in the virtual view: v < P from the real group, v >= P from the companion groups (one batched
 * OffsetFetch per coordinator). Both the single-group form (v1-7) and the multi-group form (v8+).
 */
export class VirtualOffsetFetch implements ApiHandler<typeof ApiKey.OffsetFetch> {
  private readonly context: VirtualizationContext;
  private readonly catalog: MaxGroupsCatalog;

  constructor(context: VirtualizationContext, catalog: MaxGroupsCatalog) {
    this.context = context;
    this.catalog = catalog;
  }

  onRequest(request: OffsetFetchRequest, exchange: OffsetFetchContext): Promise<OffsetFetchResponse> {
    const groups = requestedGroups(request, exchange.apiVersion);
    if (!this.mayNeedCompanions(groups, exchange.apiVersion)) return exchange.next(request);
    return this.fetch(exchange, request, groups);
  }

  private mayNeedCompanions(groups: FetchGroup[], version: number): boolean {
    const byId = namesTopicsById(version);
    for (const group of groups) {
      if (group.topics === null) return true;
      for (const topic of group.topics) {
        const name = byId ? this.context.topics.nameOf(topic.topicId) : topic.name;
        if (name === undefined) return true;
        const layout = this.context.rules.layoutOf(name);
        if (layout && topic.partitionIndexes.some((v) => v >= layout.physicalPartitions)) return true;
      }
    }
    return false;
  }

  private nameOf(version: number): (topic: { name: string; topicId: string }) => string | undefined {
    if (!namesTopicsById(version)) return (topic) => topic.name;
    return (topic) => (topic.name ? topic.name : this.context.topics.nameOf(topic.topicId));
  }

  private async fetch(
    exchange: OffsetFetchContext,
    request: OffsetFetchRequest,
    groups: FetchGroup[],
  ): Promise<OffsetFetchResponse> {
    const version = exchange.apiVersion;
    const layoutOf = (name: string) => this.context.rules.layoutOf(name);
    const wantsAll = groups.some((g) => g.topics === null);
    if (namesTopicsById(version)) {
      const ids = groups.flatMap((g) => (g.topics ?? []).map((t) => t.topicId));
      await this.context.topics.resolveIds(ids).catch(() => undefined);
    }
    const maxGroups = wantsAll ? await this.catalog.maxGroups() : 1;
    const nameOf = this.nameOf(version);
    const plans = groups.map((group) => planFetch(group, nameOf, layoutOf, maxGroups));

    const realGroups: FetchGroup[] = groups.map((group, i) => ({ ...group, topics: plans[i]!.real }));
    const realAnswer = await this.fetchReal(exchange, request, realGroups);

    const companionQueries = new Map<string, { group: number; topics: Map<string, Set<number>> | null }>();
    const companionsOf = new Map<string, Map<number, string>>();
    groups.forEach((group, i) => {
      const names = new Map<number, string>();
      for (const [g, topics] of plans[i]!.companions) {
        const name = companionGroupOf(group.groupId, g);
        names.set(g, name);
        const known = companionQueries.get(name);
        if (!known) companionQueries.set(name, { group: g, topics });
        else if (known.topics !== null && topics !== null) {
          for (const [topic, partitions] of topics) {
            const set = known.topics.get(topic) ?? new Set<number>();
            for (const p of partitions) set.add(p);
            known.topics.set(topic, set);
          }
        } else known.topics = null;
      }
      companionsOf.set(group.groupId, names);
    });
    const companionAnswers = await this.fetchCompanions(exchange, request, companionQueries);

    const merged: FetchedGroup[] = groups.map((group) => {
      const real = realAnswer.groups.find((g) => g.groupId === group.groupId) ?? {
        groupId: group.groupId,
        errorCode: ErrorCode.NONE,
        topics: [],
      };
      if (real.errorCode !== ErrorCode.NONE) return real;
      const answers = new Map<number, FetchedTopic[]>();
      for (const [g, name] of companionsOf.get(group.groupId)!) {
        const answer = companionAnswers.get(name)!;
        if (answer.errorCode !== ErrorCode.NONE) return { ...real, errorCode: answer.errorCode, topics: [] };
        answers.set(g, answer.topics);
      }
      return mergeFetch(group, real, answers, nameOf, (name) => this.context.topics.idOf(name), layoutOf);
    });

    const throttleTimeMs = realAnswer.throttleTimeMs;
    if (fetchesManyGroups(version))
      return { throttleTimeMs, topics: [], errorCode: ErrorCode.NONE, groups: merged };
    const only = merged[0]!;
    return { throttleTimeMs, topics: only.topics, errorCode: only.errorCode, groups: [] };
  }

  private async fetchReal(
    exchange: OffsetFetchContext,
    request: OffsetFetchRequest,
    groups: FetchGroup[],
  ): Promise<{ throttleTimeMs: number; groups: FetchedGroup[] }> {
    if (fetchesManyGroups(exchange.apiVersion)) {
      const response = await exchange.next({ ...request, groups });
      return { throttleTimeMs: response.throttleTimeMs, groups: response.groups };
    }
    const group = groups[0]!;
    const response = await exchange.next({ ...request, topics: group.topics });
    const topics = response.topics.map((t) => ({
      name: t.name,
      topicId: ZERO_UUID,
      partitions: t.partitions,
    }));
    return {
      throttleTimeMs: response.throttleTimeMs,
      groups: [{ groupId: group.groupId, errorCode: response.errorCode, topics }],
    };
  }

  private async fetchCompanions(
    exchange: OffsetFetchContext,
    request: OffsetFetchRequest,
    queries: Map<string, { group: number; topics: Map<string, Set<number>> | null }>,
  ): Promise<Map<string, FetchedGroup>> {
    if (queries.size === 0) return new Map();
    const requireStable = hasField("OffsetFetchRequest", "requireStable", exchange.apiVersion)
      ? request.requireStable
      : false;
    return this.context.coordinators.forEachCoordinator<FetchedGroup>(
      [...queries.keys()],
      async (nodeId, groups) => {
        const version = await this.context.admin.versionFor(
          nodeId,
          ApiKey.OffsetFetch,
          COMPANION_FETCH_VERSIONS,
        );
        const response = await exchange.send(
          ApiKey.OffsetFetch,
          version,
          {
            groupId: "",
            topics: [],
            requireStable,
            groups: groups.map((groupId) => {
              const topics = queries.get(groupId)!.topics;
              return {
                groupId,
                memberId: null,
                memberEpoch: -1,
                topics:
                  topics === null
                    ? null
                    : [...topics].map(([name, partitions]) => ({
                        name,
                        topicId: ZERO_UUID,
                        partitionIndexes: [...partitions],
                      })),
              };
            }),
          },
          { nodeId },
        );
        const outcomes = new Map<string, GroupOutcome<FetchedGroup>>();
        for (const group of response.groups) {
          outcomes.set(group.groupId, { errorCode: group.errorCode, result: group });
        }
        return outcomes;
      },
      (errorCode) => ({ groupId: "", errorCode, topics: [] }),
    );
  }
}

/** The groups an OffsetFetch asks about, in the multi-group form whatever its version. */
export function requestedGroups(request: OffsetFetchRequest, version: number): FetchGroup[] {
  if (fetchesManyGroups(version)) {
    return request.groups.map((g: OffsetFetchRequestGroup) => ({
      groupId: g.groupId,
      memberId: g.memberId ?? null,
      memberEpoch: g.memberEpoch ?? -1,
      topics: g.topics === null ? null : g.topics.map((t) => ({ ...t, topicId: t.topicId ?? "" })),
    }));
  }
  const topics = request.topics;
  return [
    {
      groupId: request.groupId,
      memberId: null,
      memberEpoch: -1,
      topics:
        topics === null
          ? null
          : topics.map((t) => ({ name: t.name, topicId: "", partitionIndexes: t.partitionIndexes })),
    },
  ];
}
