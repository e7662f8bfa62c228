import type { RequestContext } from "../../feature-api/feature.ts";
import { type CommitIdentity, validateMembership } from "../../groups/commit-fencing.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf, ZERO_UUID } from "../../protocol/api.ts";
import { isCoordinatorError } from "../../topology/group-coordinators.ts";
import type { Topology } from "../../topology/topology.ts";

type OffsetCommitRequest = RequestOf<typeof ApiKey.OffsetCommit>;
type OffsetCommitResponse = ResponseOf<typeof ApiKey.OffsetCommit>;
type OffsetFetchRequest = RequestOf<typeof ApiKey.OffsetFetch>;
type OffsetFetchResponse = ResponseOf<typeof ApiKey.OffsetFetch>;
type FetchGroup = OffsetFetchRequest["groups"][number];
type FetchedTopic = OffsetFetchResponse["groups"][number]["topics"][number];
type OffsetDeleteRequest = RequestOf<typeof ApiKey.OffsetDelete>;
type OffsetDeleteResponse = ResponseOf<typeof ApiKey.OffsetDelete>;

/** Errors of a commit that say the member may not commit now, rather than something about one partition. */
const MEMBERSHIP_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.STALE_MEMBER_EPOCH,
  ErrorCode.GROUP_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_GROUP_ID,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

interface TopicKey {
  name: string;
  topicId?: string;
}

/**
 * A group's offsets when its topics live on several clusters. Membership lives on the group's home cluster;
 * offsets of another cluster's topics are kept on that cluster, under the same group id, as commits outside any
 * generation. The broker takes those only from an empty group, and the group has no members there: the member is
 * fenced first on the home cluster (by the broker itself when the commit also names home topics, else by the
 * checks virtualization uses for its companion groups). OffsetFetch asks every cluster concerned and merges.
 */
export class GroupOffsetRouting {
  private readonly topology: Topology;

  constructor(topology: Topology) {
    this.topology = topology;
  }

  private clusterOf(topic: TopicKey, own: string): string {
    if (topic.name) return this.topology.routing.clusterOfTopic(topic.name);
    if (topic.topicId && topic.topicId !== ZERO_UUID) {
      const name = this.topology.topics.nameOf(topic.topicId);
      if (name !== undefined) return this.topology.routing.clusterOfTopic(name);
    }
    return own;
  }

  /** Whether a stored offset of `topic` on `cluster` is the one clients see (the topic lives there). */
  private keeps(cluster: string, topic: TopicKey): boolean {
    return this.clusterOf(topic, cluster) === cluster;
  }

  /** The topics of `own` cluster, and those of every other cluster by cluster. */
  private splitTopics<T extends TopicKey>(
    topics: readonly T[],
    own: string,
  ): { home: T[]; elsewhere: Map<string, T[]> } {
    const home: T[] = [];
    const elsewhere = new Map<string, T[]>();
    for (const topic of topics) {
      const cluster = this.clusterOf(topic, own);
      if (cluster === own) {
        home.push(topic);
        continue;
      }
      const list = elsewhere.get(cluster);
      if (list) list.push(topic);
      else elsewhere.set(cluster, [topic]);
    }
    return { home, elsewhere };
  }

  async offsetCommit(
    request: OffsetCommitRequest,
    context: RequestContext<typeof ApiKey.OffsetCommit>,
  ): Promise<OffsetCommitResponse> {
    const own = this.topology.clusterOfNode(context.nodeId);
    const { home: homeTopics, elsewhere: parts } = this.splitTopics(request.topics, own);
    if (parts.size === 0) return context.next(request);

    let response: OffsetCommitResponse;
    let fence: number;
    if (homeTopics.length > 0) {
      response = await context.next({ ...request, topics: homeTopics });
      fence = ErrorCode.NONE;
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          if (MEMBERSHIP_ERRORS.has(partition.errorCode)) fence = partition.errorCode;
        }
      }
    } else {
      response = { throttleTimeMs: 0, topics: [] };
      const identity: CommitIdentity = request;
      fence = await validateMembership(context, this.topology.admin, identity, context.apiVersion).catch(
        () => ErrorCode.COORDINATOR_NOT_AVAILABLE,
      );
    }
    const answered = await Promise.all(
      [...parts].map(([cluster, topics]) =>
        fence === ErrorCode.NONE
          ? this.commitOn(cluster, { ...request, topics }, context)
          : commitErrors(topics, fence),
      ),
    );
    for (const topics of answered) response.topics.push(...topics);
    return response;
  }

  /** Stores offsets on `cluster` outside any generation; each partition gets what that cluster answered. */
  private async commitOn(
    cluster: string,
    request: OffsetCommitRequest,
    context: RequestContext<typeof ApiKey.OffsetCommit>,
  ): Promise<OffsetCommitResponse["topics"]> {
    const simple: OffsetCommitRequest = {
      ...request,
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
    };
    const outcomes = await this.topology
      .coordinatorsOn(cluster)
      .forEachCoordinator<OffsetCommitResponse["topics"]>(
        [request.groupId],
        async (nodeId, groups) => {
          const answer = await context.send(ApiKey.OffsetCommit, context.apiVersion, simple, { nodeId });
          const coordinatorError = firstCoordinatorError(answer);
          return new Map(
            groups.map((group) => [group, { errorCode: coordinatorError, result: answer.topics }]),
          );
        },
        (errorCode) => commitErrors(request.topics, errorCode),
      );
    return outcomes.get(request.groupId) ?? commitErrors(request.topics, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  async offsetFetch(
    request: OffsetFetchRequest,
    context: RequestContext<typeof ApiKey.OffsetFetch>,
  ): Promise<OffsetFetchResponse> {
    const own = this.topology.clusterOfNode(context.nodeId);
    const batched = request.groups.length > 0;
    const groups: FetchGroup[] = batched
      ? request.groups
      : [
          {
            groupId: request.groupId,
            memberId: null,
            memberEpoch: -1,
            topics:
              request.topics === null ? null : request.topics.map((t) => ({ ...t, topicId: ZERO_UUID })),
          },
        ];
    // Per other cluster: each group's topics there (null: all of them).
    const elsewhere = new Map<string, Map<string, FetchGroup["topics"]>>();
    const ownGroups: FetchGroup[] = [];
    for (const group of groups) {
      if (group.topics === null) {
        for (const cluster of this.topology.clusterNames) {
          if (cluster !== own) plan(elsewhere, cluster).set(group.groupId, null);
        }
        ownGroups.push(group);
        continue;
      }
      const { home, elsewhere: parts } = this.splitTopics(group.topics, own);
      for (const [cluster, topics] of parts) plan(elsewhere, cluster).set(group.groupId, topics);
      ownGroups.push({ ...group, topics: home });
    }
    if (elsewhere.size === 0) return context.next(request);

    const ownRequest: OffsetFetchRequest = batched
      ? { ...request, groups: ownGroups }
      : { ...request, topics: ownGroups[0]!.topics };
    const [response, ...others] = await Promise.all([
      context.next(ownRequest),
      ...[...elsewhere].map(([cluster, wanted]) => this.fetchOn(cluster, wanted, request, context)),
    ]);
    const results = batched
      ? response.groups
      : [
          {
            groupId: request.groupId,
            topics: response.topics as FetchedTopic[],
            errorCode: response.errorCode,
          },
        ];
    for (const group of results) {
      group.topics = group.topics.filter((topic) => this.keeps(own, topic));
      for (const other of others) {
        const found = other.get(group.groupId);
        if (!found) continue;
        if (typeof found === "number") {
          if (group.errorCode === ErrorCode.NONE) group.errorCode = found;
          continue;
        }
        group.topics.push(...found);
      }
    }
    if (!batched) {
      response.topics = results[0]!.topics;
      response.errorCode = results[0]!.errorCode;
    }
    return response;
  }

  /** Each group's offsets on `cluster` for the topics routed there: the topics, or the error that kept them. */
  private async fetchOn(
    cluster: string,
    wanted: Map<string, FetchGroup["topics"]>,
    request: OffsetFetchRequest,
    context: RequestContext<typeof ApiKey.OffsetFetch>,
  ): Promise<Map<string, FetchedTopic[] | number>> {
    const batched = request.groups.length > 0;
    const outcomes = await this.topology.coordinatorsOn(cluster).forEachCoordinator<FetchedTopic[] | number>(
      [...wanted.keys()],
      async (nodeId, groupIds) => {
        const found = new Map<string, { errorCode: number; result: FetchedTopic[] | number }>();
        const asks = batched
          ? [
              {
                ...request,
                groups: groupIds.map((groupId) => ({
                  groupId,
                  memberId: null,
                  memberEpoch: -1,
                  topics: wanted.get(groupId) ?? null,
                })),
              },
            ]
          : groupIds.map((groupId) => ({ ...request, groupId, topics: wanted.get(groupId) ?? null }));
        for (const ask of asks) {
          const answer = await context.send(ApiKey.OffsetFetch, context.apiVersion, ask, { nodeId });
          const groups = batched
            ? answer.groups
            : [
                {
                  groupId: ask.groupId,
                  topics: answer.topics as FetchedTopic[],
                  errorCode: answer.errorCode,
                },
              ];
          for (const group of groups) {
            const topics = group.topics.filter((topic) => this.keeps(cluster, topic));
            found.set(group.groupId, {
              errorCode: group.errorCode,
              result: group.errorCode === ErrorCode.NONE ? topics : group.errorCode,
            });
          }
        }
        return found;
      },
      (errorCode) => errorCode,
    );
    return outcomes;
  }

  async offsetDelete(
    request: OffsetDeleteRequest,
    context: RequestContext<typeof ApiKey.OffsetDelete>,
  ): Promise<OffsetDeleteResponse> {
    const own = this.topology.clusterOfNode(context.nodeId);
    const { home, elsewhere: parts } = this.splitTopics(request.topics, own);
    if (parts.size === 0) return context.next(request);
    const response = await context.next({ ...request, topics: home });
    if (response.errorCode !== ErrorCode.NONE) return response;
    for (const [cluster, topics] of parts) {
      const outcomes = await this.topology
        .coordinatorsOn(cluster)
        .forEachCoordinator<OffsetDeleteResponse["topics"]>(
          [request.groupId],
          async (nodeId, groups) => {
            const answer = await context.send(
              ApiKey.OffsetDelete,
              context.apiVersion,
              { ...request, topics },
              {
                nodeId,
              },
            );
            const result =
              answer.errorCode === ErrorCode.GROUP_ID_NOT_FOUND
                ? deleteErrors(topics, ErrorCode.NONE)
                : answer.topics;
            return new Map(groups.map((group) => [group, { errorCode: answer.errorCode, result }]));
          },
          (errorCode) => deleteErrors(topics, errorCode),
        );
      response.topics.push(...(outcomes.get(request.groupId) ?? []));
    }
    return response;
  }

  /** Deletes the groups on their home cluster, then the offsets they keep on every other cluster. */
  async deleteGroups(
    request: RequestOf<typeof ApiKey.DeleteGroups>,
    context: RequestContext<typeof ApiKey.DeleteGroups>,
  ): Promise<ResponseOf<typeof ApiKey.DeleteGroups>> {
    const response = await context.next(request);
    const own = this.topology.clusterOfNode(context.nodeId);
    const deleted = response.results
      .filter((result) => result.errorCode === ErrorCode.NONE)
      .map((result) => result.groupId);
    if (deleted.length === 0) return response;
    for (const cluster of this.topology.clusterNames) {
      if (cluster === own) continue;
      const outcomes = await this.topology.coordinatorsOn(cluster).forEachCoordinator<number>(
        deleted,
        async (nodeId, groups) => {
          const answer = await context.send(
            ApiKey.DeleteGroups,
            context.apiVersion,
            { groupsNames: groups },
            { nodeId },
          );
          return new Map(
            answer.results.map((r) => [r.groupId, { errorCode: r.errorCode, result: r.errorCode }]),
          );
        },
        (errorCode) => errorCode,
      );
      for (const result of response.results) {
        const code = outcomes.get(result.groupId);
        if (code !== undefined && code !== ErrorCode.NONE && code !== ErrorCode.GROUP_ID_NOT_FOUND) {
          result.errorCode = code;
          result.errorMessage = `the group's offsets on cluster ${cluster} could not be deleted`;
        }
      }
    }
    return response;
  }

  /** ListGroups of a node lists the groups whose home is the node's cluster. */
  listGroups(response: ResponseOf<typeof ApiKey.ListGroups>, nodeId: number | undefined): boolean {
    const cluster = this.topology.clusterOfNode(nodeId);
    const before = response.groups.length;
    response.groups = response.groups.filter(
      (group) => this.topology.routing.homeOfGroup(group.groupId) === cluster,
    );
    return response.groups.length !== before;
  }
}

function plan(
  elsewhere: Map<string, Map<string, FetchGroup["topics"]>>,
  cluster: string,
): Map<string, FetchGroup["topics"]> {
  let groups = elsewhere.get(cluster);
  if (!groups) elsewhere.set(cluster, (groups = new Map()));
  return groups;
}

function firstCoordinatorError(answer: OffsetCommitResponse): number {
  for (const topic of answer.topics) {
    for (const partition of topic.partitions) {
      if (isCoordinatorError(partition.errorCode)) return partition.errorCode;
    }
  }
  return ErrorCode.NONE;
}

function commitErrors(
  topics: OffsetCommitRequest["topics"],
  errorCode: number,
): OffsetCommitResponse["topics"] {
  return topics.map((topic) => ({
    name: topic.name,
    topicId: topic.topicId,
    partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
  }));
}

function deleteErrors(
  topics: OffsetDeleteRequest["topics"],
  errorCode: number,
): OffsetDeleteResponse["topics"] {
  return topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
  }));
}
