import type {
  Exchange,
  ExchangeContext,
  Feature,
  RequestInterceptor,
  ResponseFeature,
} from "../../proxy/feature.ts";
import { companionGroupOf, isCompanionGroup } from "./companion-groups.ts";
import { VirtualConsumerGroupDescribe, VirtualConsumerHeartbeat } from "./consumer-protocol.ts";
import type { VirtualizationContext } from "./context.ts";
import { GroupCoordinators, type GroupOutcome } from "./group-coordinators.ts";
import {
  GROUP_ID_NOT_FOUND,
  GROUP_SUBSCRIBED_TO_TOPIC,
  INVALID_REQUEST,
  NONE,
  UNKNOWN_TOPIC_OR_PARTITION,
} from "./group-error-codes.ts";
import { VirtualOffsetCommit } from "./offset-commit.ts";
import { VirtualOffsetFetch } from "./offset-fetch.ts";
import { groupOf, physicalOf } from "./rules.ts";
import { VirtualTopicCatalog } from "./virtual-topic-catalog.ts";

const TXN_OFFSET_COMMIT = 28;
const LIST_GROUPS = 16;
const DELETE_GROUPS = 42;
const DELETE_GROUPS_VERSION = 2;
const OFFSET_DELETE = 47;
const DESCRIBE_GROUPS = 15;
const DESCRIBE_GROUPS_VERSION = 5;
const TXN_TOPIC_IDS_VERSION = 6;

/** ListGroups shows only real groups: companion groups are the proxy's bookkeeping. */
export class HideCompanionGroups implements ResponseFeature {
  readonly name = "virtualization-list-groups";
  readonly responseApiKeys = [LIST_GROUPS];

  // biome-ignore lint/suspicious/noExplicitAny: generated ListGroups response body
  onResponse(_context: ExchangeContext, body: any): boolean {
    const groups = body.groups as { groupId: string }[];
    const kept = groups.filter((group) => !isCompanionGroup(group.groupId));
    if (kept.length === groups.length) return false;
    body.groups = kept;
    return true;
  }
}

interface DeletableGroupResult {
  groupId: string;
  errorCode: number;
  errorMessage: string | null;
}

/** DeleteGroups also deletes the companion groups of every group it deleted (or that had only companions). */
export class DeleteCompanionGroups implements RequestInterceptor {
  readonly name = "virtualization-delete-groups";
  readonly interceptApiKeys = [DELETE_GROUPS];
  private readonly coordinators: GroupCoordinators;
  private readonly catalog: VirtualTopicCatalog;

  constructor(coordinators: GroupCoordinators, catalog: VirtualTopicCatalog) {
    this.coordinators = coordinators;
    this.catalog = catalog;
  }

  intercept(exchange: Exchange): Promise<unknown> {
    return this.delete(exchange);
  }

  private async delete(exchange: Exchange): Promise<unknown> {
    const response = await exchange.send(DELETE_GROUPS, exchange.apiVersion, exchange.request);
    const maxGroups = await this.catalog.maxGroups(0);
    if (maxGroups <= 1) return response;
    const results = response.results as DeletableGroupResult[];
    const owners = new Map<string, DeletableGroupResult>();
    for (const result of results) {
      if (isCompanionGroup(result.groupId)) continue;
      if (result.errorCode !== NONE && result.errorCode !== GROUP_ID_NOT_FOUND) continue;
      for (let g = 1; g < maxGroups; g++) owners.set(companionGroupOf(result.groupId, g), result);
    }
    if (owners.size === 0) return response;
    const outcomes = await this.coordinators.forEachCoordinator<number>(
      [...owners.keys()],
      async (nodeId, groups) => {
        const answer = await exchange.sendToNode(nodeId, DELETE_GROUPS, DELETE_GROUPS_VERSION, {
          groupsNames: groups,
        });
        const map = new Map<string, GroupOutcome<number>>();
        for (const r of answer.results as DeletableGroupResult[]) {
          map.set(r.groupId, { errorCode: r.errorCode, result: r.errorCode });
        }
        return map;
      },
      (errorCode) => errorCode,
    );
    const deletedSome = new Set<DeletableGroupResult>();
    for (const [companion, errorCode] of outcomes) {
      const owner = owners.get(companion)!;
      if (errorCode === NONE) deletedSome.add(owner);
      else if (errorCode !== GROUP_ID_NOT_FOUND && owner.errorCode === NONE) {
        owner.errorCode = errorCode;
        owner.errorMessage = `deleting companion group ${companion} failed`;
      }
    }
    for (const owner of deletedSome) {
      if (owner.errorCode === GROUP_ID_NOT_FOUND) {
        owner.errorCode = NONE;
        owner.errorMessage = null;
      }
    }
    return response;
  }
}

interface OffsetDeleteTopic {
  name: string;
  partitions: { partitionIndex: number }[];
}

interface OffsetDeleteAnswer {
  errorCode: number;
  throttleTimeMs: number;
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
}

/** OffsetDelete for virtual partitions: v < P under the real group, v >= P under its companion group. */
export class VirtualOffsetDelete implements RequestInterceptor {
  readonly name = "virtualization-offset-delete";
  readonly interceptApiKeys = [OFFSET_DELETE];
  private readonly context: VirtualizationContext;
  private readonly coordinators: GroupCoordinators;

  constructor(context: VirtualizationContext, coordinators: GroupCoordinators) {
    this.context = context;
    this.coordinators = coordinators;
  }

  intercept(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as { groupId: string; topics: OffsetDeleteTopic[] };
    const touchesCompanions = request.topics.some((topic) => {
      const layout = this.context.rules.layoutOf(topic.name);
      return (
        layout !== undefined && topic.partitions.some((p) => p.partitionIndex >= layout.physicalPartitions)
      );
    });
    if (!touchesCompanions) return undefined;
    return this.delete(exchange, request);
  }

  private async delete(
    exchange: Exchange,
    request: { groupId: string; topics: OffsetDeleteTopic[] },
  ): Promise<unknown> {
    const real: OffsetDeleteTopic[] = [];
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
    let realAnswer: OffsetDeleteAnswer = { errorCode: NONE, throttleTimeMs: 0, topics: [] };
    let groupActive = false;
    if (real.length > 0) {
      realAnswer = await exchange.send(OFFSET_DELETE, exchange.apiVersion, {
        groupId: request.groupId,
        topics: real,
      });
      if (realAnswer.errorCode !== NONE) return { ...realAnswer, topics: [] };
    } else {
      groupActive = await this.hasMembers(exchange, request.groupId);
    }
    const subscribed = new Set<string>();
    for (const topic of realAnswer.topics) {
      if (topic.partitions.some((p) => p.errorCode === GROUP_SUBSCRIBED_TO_TOPIC)) subscribed.add(topic.name);
    }
    const blocked = (topic: string) => groupActive || subscribed.has(topic);
    const names = new Map<string, number>();
    for (const g of companions.keys()) names.set(companionGroupOf(request.groupId, g), g);
    const outcomes = await this.coordinators.forEachCoordinator<Map<string, number>>(
      [...names.keys()].filter((name) =>
        [...companions.get(names.get(name)!)!.keys()].some((t) => !blocked(t)),
      ),
      async (nodeId, groups) => {
        const map = new Map<string, GroupOutcome<Map<string, number>>>();
        await Promise.all(
          groups.map(async (group) => {
            const topics = [...companions.get(names.get(group)!)!]
              .filter(([topic]) => !blocked(topic))
              .map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex })) }));
            const answer = (await exchange.sendToNode(nodeId, OFFSET_DELETE, 0, {
              groupId: group,
              topics,
            })) as OffsetDeleteAnswer;
            const errors = new Map<string, number>();
            if (answer.errorCode !== NONE && answer.errorCode !== GROUP_ID_NOT_FOUND)
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
            errorCode = realErrors.get(`${topic.name}/${v}`) ?? NONE;
          else if (v >= layout.virtualPartitions) errorCode = UNKNOWN_TOPIC_OR_PARTITION;
          else if (blocked(topic.name)) errorCode = GROUP_SUBSCRIBED_TO_TOPIC;
          else {
            const result = outcomes.get(companionGroupOf(request.groupId, groupOf(layout, v)));
            const p = physicalOf(layout, v);
            errorCode = result?.get("*") ?? result?.get(`${topic.name}/${p}`) ?? NONE;
          }
          return { partitionIndex: v, errorCode };
        }),
      };
    });
    return { errorCode: NONE, throttleTimeMs: realAnswer.throttleTimeMs, topics };
  }

  /** Conservative stand-in for the broker's subscription check when no real partition was in the request. */
  private async hasMembers(exchange: Exchange, groupId: string): Promise<boolean> {
    const response = await exchange.send(DESCRIBE_GROUPS, DESCRIBE_GROUPS_VERSION, {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    const group = (response.groups as { errorCode: number; members: unknown[] }[])[0];
    return group !== undefined && group.errorCode === NONE && group.members.length > 0;
  }
}

/**
 * Transactions on virtualized topics are not supported yet: a TxnOffsetCommit naming one is refused for every
 * partition (the offsets of a transaction commit together or not at all), with the reason in the log.
 */
export class RefuseTransactionalCommits implements RequestInterceptor {
  readonly name = "virtualization-txn-offset-commit";
  readonly interceptApiKeys = [TXN_OFFSET_COMMIT];
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  intercept(exchange: Exchange): Promise<unknown> | undefined {
    const request = exchange.request as {
      groupId: string;
      transactionalId: string;
      topics: { name: string; topicId: string; partitions: { partitionIndex: number }[] }[];
    };
    const byId = exchange.apiVersion >= TXN_TOPIC_IDS_VERSION;
    if (byId && request.topics.some((t) => this.context.topics.nameOf(t.topicId) === undefined)) {
      return this.context.topics
        .resolveIds(request.topics.map((t) => t.topicId))
        .catch(() => undefined)
        .then(
          () =>
            this.answer(exchange, request, byId) ??
            exchange.send(TXN_OFFSET_COMMIT, exchange.apiVersion, request),
        );
    }
    return this.answer(exchange, request, byId);
  }

  private answer(
    exchange: Exchange,
    request: {
      groupId: string;
      transactionalId: string;
      topics: { name: string; topicId: string; partitions: { partitionIndex: number }[] }[];
    },
    byId: boolean,
  ): Promise<unknown> | undefined {
    const virtualized = request.topics
      .map((t) => (byId ? this.context.topics.nameOf(t.topicId) : t.name))
      .filter(
        (name): name is string => name !== undefined && this.context.rules.layoutOf(name) !== undefined,
      );
    if (virtualized.length === 0) return undefined;
    exchange.log.warn(
      { group: request.groupId, transactionalId: request.transactionalId, topics: virtualized },
      "TxnOffsetCommit refused: transactions on virtualized topics are not supported yet",
    );
    return Promise.resolve({
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: INVALID_REQUEST,
        })),
      })),
    });
  }
}

/** Consumer-group offsets and KIP-848 assignments for virtualized topics. */
export function virtualGroupFeatures(context: VirtualizationContext): Feature[] {
  const coordinators = new GroupCoordinators(context.requestAnyBroker, context.log);
  const catalog = new VirtualTopicCatalog(context);
  return [
    new VirtualOffsetCommit(context, coordinators),
    new VirtualOffsetFetch(context, coordinators, catalog),
    new HideCompanionGroups(),
    new DeleteCompanionGroups(coordinators, catalog),
    new VirtualOffsetDelete(context, coordinators),
    new RefuseTransactionalCommits(context),
    new VirtualConsumerHeartbeat(context),
    new VirtualConsumerGroupDescribe(context),
  ];
}
