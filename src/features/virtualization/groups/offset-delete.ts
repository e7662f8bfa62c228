import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { describeClassicGroup } from "../../../groups/commit-fencing.ts";
import { ApiKey, ErrorCode } from "../../../protocol/api.ts";
import type {
  OffsetDeleteRequest,
  OffsetDeleteRequestTopic,
} from "../../../protocol/generated/messages/offset-delete-request.ts";
import type { OffsetDeleteResponse } from "../../../protocol/generated/messages/offset-delete-response.ts";
import type { GroupOutcome } from "../../../topology/group-coordinators.ts";
import type { VirtualizationContext } from "../context.ts";
import { groupOf, physicalOf } from "../mapping/rules.ts";
import { companionGroupOf } from "./companion-groups.ts";

type OffsetDeleteContext = RequestContext<typeof ApiKey.OffsetDelete>;

/** OffsetDelete for virtual partitions: v < P under the real group, v >= P under its companion group. */
export class VirtualOffsetDelete implements ApiHandler<typeof ApiKey.OffsetDelete> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  onRequest(request: OffsetDeleteRequest, exchange: OffsetDeleteContext): Promise<OffsetDeleteResponse> {
    const touchesCompanions = request.topics.some((topic) => {
      const layout = this.context.rules.layoutOf(topic.name);
      return (
        layout !== undefined && topic.partitions.some((p) => p.partitionIndex >= layout.physicalPartitions)
      );
    });
    if (!touchesCompanions) return exchange.next(request);
    return this.delete(exchange, request);
  }

  private async delete(
    exchange: OffsetDeleteContext,
    request: OffsetDeleteRequest,
  ): Promise<OffsetDeleteResponse> {
    const real: OffsetDeleteRequestTopic[] = [];
    const companions = new Map<number, Map<string, number[]>>();
    for (const topic of request.topics) {
      const layout = this.context.rules.layoutOf(topic.name);
      if (!layout) {
        real.push(topic);
        continue;
      }
      const kept = topic.partitions.filter((p) => p.partitionIndex < layout.physicalPartitions);
      if (kept.length > 0) real.push({ name: topic.name, partitions: kept });
      for (const { partitionIndex: v } of topic.partitions) {
        if (v < layout.physicalPartitions || v >= layout.virtualPartitions) continue;
        const g = groupOf(layout, v);
        let byTopic = companions.get(g);
        if (!byTopic) companions.set(g, (byTopic = new Map()));
        const list = byTopic.get(topic.name) ?? [];
        list.push(physicalOf(layout, v));
        byTopic.set(topic.name, list);
      }
    }
    let realAnswer: OffsetDeleteResponse = { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics: [] };
    let groupActive = false;
    if (real.length > 0) {
      realAnswer = await exchange.next({ groupId: request.groupId, topics: real });
      if (realAnswer.errorCode !== ErrorCode.NONE) return { ...realAnswer, topics: [] };
    } else {
      groupActive = await this.hasMembers(exchange, request.groupId);
    }
    const subscribed = new Set<string>();
    for (const topic of realAnswer.topics) {
      if (topic.partitions.some((p) => p.errorCode === ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC))
        subscribed.add(topic.name);
    }
    const blocked = (topic: string) => groupActive || subscribed.has(topic);
    const names = new Map<string, number>();
    for (const g of companions.keys()) names.set(companionGroupOf(request.groupId, g), g);
    const outcomes = await this.context.coordinators.forEachCoordinator<Map<string, number>>(
      [...names.keys()].filter((name) =>
        [...companions.get(names.get(name)!)!.keys()].some((t) => !blocked(t)),
      ),
      async (nodeId, groups) => {
        const version = await this.context.admin.versionFor(nodeId, ApiKey.OffsetDelete);
        const map = new Map<string, GroupOutcome<Map<string, number>>>();
        await Promise.all(
          groups.map(async (group) => {
            const topics = [...companions.get(names.get(group)!)!]
              .filter(([topic]) => !blocked(topic))
              .map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex })) }));
            const answer = await exchange.send(
              ApiKey.OffsetDelete,
              version,
              { groupId: group, topics },
              { nodeId },
            );
            const errors = new Map<string, number>();
            if (answer.errorCode !== ErrorCode.NONE && answer.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND)
              errors.set("*", answer.errorCode);
            for (const t of answer.topics)
              for (const p of t.partitions) errors.set(`${t.name}/${p.partitionIndex}`, p.errorCode);
            map.set(group, { errorCode: answer.errorCode, result: errors });
          }),
        );
        return map;
      },
      (errorCode) => new Map([["*", errorCode]]),
    );
    const realErrors = new Map<string, number>();
    for (const t of realAnswer.topics)
      for (const p of t.partitions) realErrors.set(`${t.name}/${p.partitionIndex}`, p.errorCode);
    const topics = request.topics.map((topic) => {
      const layout = this.context.rules.layoutOf(topic.name);
      return {
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex: v }) => {
          let errorCode: number;
          if (!layout || v < layout.physicalPartitions)
            errorCode = realErrors.get(`${topic.name}/${v}`) ?? ErrorCode.NONE;
          else if (v >= layout.virtualPartitions) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if (blocked(topic.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
          else {
            const result = outcomes.get(companionGroupOf(request.groupId, groupOf(layout, v)));
            const p = physicalOf(layout, v);
            errorCode = result?.get("*") ?? result?.get(`${topic.name}/${p}`) ?? ErrorCode.NONE;
          }
          return { partitionIndex: v, errorCode };
        }),
      };
    });
    return { errorCode: ErrorCode.NONE, throttleTimeMs: realAnswer.throttleTimeMs, topics };
  }

  /**
   * Conservative stand-in for the broker's subscription check when no real partition was in the request: a
   * classic group with members. (A group DescribeGroups does not know, GROUP_ID_NOT_FOUND from v6 on, has none.)
   */
  private async hasMembers(exchange: OffsetDeleteContext, groupId: string): Promise<boolean> {
    const group = await describeClassicGroup(exchange, this.context.admin, groupId);
    return group !== undefined && group.errorCode === ErrorCode.NONE && group.members.length > 0;
  }
}
