/** Consumer group APIs: offsets, coordinators, descriptions, listings and deletions. */
import type { RequestContext } from "../../feature-api/feature.ts";
import { ApiKey, ErrorCode, hasField, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { CoordinatorType } from "../../protocol/coordinator-type.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import type { Access } from "./access.ts";
import {
  type Authorize,
  answerAllowed,
  type EntryList,
  emptyResponse,
  failureMessage,
  mirroredErrors,
  refuseWhole,
  type Split,
  splitNamed,
  splitTopics,
} from "./answers.ts";
import { everyNamedEntity } from "./named-entities.ts";
import { type AclOperation, AUTHORIZATION_FAILED } from "./operations.ts";
import { REQUIRED_OPERATIONS } from "./required-operations.ts";

type CommitTopic = RequestOf<typeof ApiKey.OffsetCommit>["topics"][number];
type CommitTopicResult = ResponseOf<typeof ApiKey.OffsetCommit>["topics"][number];

const COMMIT_TOPICS: EntryList<typeof ApiKey.OffsetCommit, CommitTopic, CommitTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

/**
 * READ on the group (else every partition gets GROUP_AUTHORIZATION_FAILED), then READ on each topic (names
 * resolved from ids from v10): refused topics are not committed and get the error.
 */
const offsetCommit: Authorize<typeof ApiKey.OffsetCommit> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.OffsetCommit];
  if (!access.check("group", request.groupId, required.group)) return refuseWhole(context, request, "group");
  const byId = hasField("OffsetCommitRequest", "topics.topicId", context.apiVersion);
  const split = await splitTopics(access, required.topic, request.topics, {
    name: (topic) => (byId ? null : topic.name),
    id: (topic) => topic.topicId,
  });
  return answerAllowed(COMMIT_TOPICS, request, context, split);
};

type DeleteOffsetsTopic = RequestOf<typeof ApiKey.OffsetDelete>["topics"][number];
type DeleteOffsetsTopicResult = ResponseOf<typeof ApiKey.OffsetDelete>["topics"][number];

const DELETE_OFFSETS_TOPICS: EntryList<
  typeof ApiKey.OffsetDelete,
  DeleteOffsetsTopic,
  DeleteOffsetsTopicResult
> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

/** DELETE on the group, then READ on each topic. */
const offsetDelete: Authorize<typeof ApiKey.OffsetDelete> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.OffsetDelete];
  if (!access.check("group", request.groupId, required.group)) return refuseWhole(context, request, "group");
  const split = await splitTopics(access, required.topic, request.topics, { name: (topic) => topic.name });
  return answerAllowed(DELETE_OFFSETS_TOPICS, request, context, split);
};

type OffsetFetchRequest = RequestOf<typeof ApiKey.OffsetFetch>;
type OffsetFetchResponse = ResponseOf<typeof ApiKey.OffsetFetch>;
type FetchedTopic = NonNullable<OffsetFetchRequest["topics"]>[number];
type FetchedTopicResult = OffsetFetchResponse["topics"][number];
type FetchedGroup = OffsetFetchRequest["groups"][number];
type FetchedGroupTopic = NonNullable<FetchedGroup["topics"]>[number];
type FetchedGroupResult = OffsetFetchResponse["groups"][number];

const FETCHED_TOPICS: EntryList<typeof ApiKey.OffsetFetch, FetchedTopic, FetchedTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

const OFFSET_FETCH = REQUIRED_OPERATIONS[ApiKey.OffsetFetch];

/** The topics of an all-topics answer that the principal may describe (names resolved from ids). */
async function describableOffsets<T extends { name: string; topicId?: string }>(
  access: Access,
  topics: readonly T[],
): Promise<T[]> {
  const ids = topics.filter((topic) => !topic.name && topic.topicId).map((topic) => topic.topicId!);
  if (ids.length > 0) await access.topics.resolve(ids);
  return topics.filter((topic) => {
    const name = topic.name || (topic.topicId ? access.topics.nameOf(topic.topicId) : undefined);
    return name !== undefined && access.may("topic", name, OFFSET_FETCH.topic);
  });
}

/**
 * DESCRIBE on each group (a refused group gets GROUP_AUTHORIZATION_FAILED), then DESCRIBE on each topic asked
 * for (refused topics get TOPIC_AUTHORIZATION_FAILED); a group's offsets for all topics show only the topics the
 * principal may describe.
 */
const offsetFetch: Authorize<typeof ApiKey.OffsetFetch> = async (request, context, access) => {
  if (!hasField("OffsetFetchRequest", "groups", context.apiVersion)) {
    if (!access.check("group", request.groupId, OFFSET_FETCH.group))
      return refuseWhole(context, request, "group");
    if (request.topics === null) {
      const response = await context.next(request);
      if (response.errorCode === ErrorCode.NONE)
        response.topics = await describableOffsets(access, response.topics);
      return response;
    }
    const split = await splitTopics(access, OFFSET_FETCH.topic, request.topics, {
      name: (topic) => topic.name,
    });
    return answerAllowed(FETCHED_TOPICS, request, context, split);
  }
  return offsetFetchOfGroups(request, context, access);
};

async function offsetFetchOfGroups(
  request: OffsetFetchRequest,
  context: RequestContext<typeof ApiKey.OffsetFetch>,
  access: Access,
): Promise<OffsetFetchResponse> {
  const byId = hasField("OffsetFetchRequest", "groups.topics.topicId", context.apiVersion);
  const groups = splitNamed(access, "group", OFFSET_FETCH.group, request.groups, (group) => group.groupId);
  const asked: FetchedGroup[] = [];
  const refusedTopics = new Map<string, Split<FetchedGroupTopic>>();
  for (const group of groups.allowed) {
    if (group.topics === null) {
      asked.push(group);
      continue;
    }
    const split = await splitTopics(access, OFFSET_FETCH.topic, group.topics, {
      name: (topic) => (byId ? null : topic.name),
      id: (topic) => topic.topicId,
    });
    asked.push({ ...group, topics: split.allowed });
    if (split.anyRefused) refusedTopics.set(group.groupId, split);
  }
  const listsAll = asked.some((group) => group.topics === null);
  if (!groups.anyRefused && refusedTopics.size === 0 && !listsAll) return context.next(request);
  const rest = { ...request, groups: asked };
  const response = asked.length > 0 ? await context.next(rest) : emptyResponse(context, rest);
  for (const result of response.groups) {
    const group = asked.find((g) => g.groupId === result.groupId);
    if (group?.topics === null && result.errorCode === ErrorCode.NONE) {
      result.topics = await describableOffsets(access, result.topics);
    }
    for (const [errorCode, topics] of refusedTopics.get(result.groupId)?.refused ?? []) {
      result.topics.push(...groupTopicErrors(context, request, { ...group!, topics }, errorCode));
    }
  }
  for (const [errorCode, refused] of groups.refused) {
    response.groups.push(...mirrorGroups(context, request, refused, errorCode));
  }
  return response;
}

function mirrorGroups(
  context: RequestContext<typeof ApiKey.OffsetFetch>,
  request: OffsetFetchRequest,
  groups: FetchedGroup[],
  errorCode: number,
): FetchedGroupResult[] {
  return refusalResponse(context.apiKey, context.apiVersion, { ...request, groups }, errorCode).groups;
}

function groupTopicErrors(
  context: RequestContext<typeof ApiKey.OffsetFetch>,
  request: OffsetFetchRequest,
  group: FetchedGroup,
  errorCode: number,
): FetchedGroupResult["topics"] {
  const [mirrored] = mirrorGroups(context, request, [group], errorCode);
  return mirrored?.topics ?? [];
}

/** The coordinator keys a FindCoordinator request names and the resource they stand for. */
function coordinatorResource(
  request: RequestOf<typeof ApiKey.FindCoordinator>,
  version: number,
): "group" | "transactional_id" | "cluster" {
  const keyType = hasField("FindCoordinatorRequest", "keyType", version)
    ? request.keyType
    : CoordinatorType.group;
  if (keyType === CoordinatorType.group) return "group";
  if (keyType === CoordinatorType.transaction) return "transactional_id";
  return "cluster";
}

type CoordinatorResult = ResponseOf<typeof ApiKey.FindCoordinator>["coordinators"][number];

const COORDINATOR_KEYS: EntryList<typeof ApiKey.FindCoordinator, string, CoordinatorResult> = {
  withEntries: (request, coordinatorKeys) => ({ ...request, coordinatorKeys }),
  results: (response) => response.coordinators,
  errorResults: mirroredErrors(
    (request, coordinatorKeys) => ({ ...request, coordinatorKeys }),
    (response) => response.coordinators,
  ),
};

/**
 * DESCRIBE on the group, or on the transactional id, each key names; share coordinators (a broker's own
 * lookups) need cluster_action. Refused keys get the resource's error; from v4 the others are still looked up.
 */
const findCoordinator: Authorize<typeof ApiKey.FindCoordinator> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.FindCoordinator];
  const resource = coordinatorResource(request, context.apiVersion);
  const batched = hasField("FindCoordinatorRequest", "coordinatorKeys", context.apiVersion);
  if (resource === "cluster") {
    return access.checkOnCluster(required.cluster)
      ? context.next(request)
      : refuseWhole(context, request, "cluster");
  }
  if (!batched) {
    return access.check(resource, request.key, required[resource])
      ? context.next(request)
      : refuseWhole(context, request, resource);
  }
  const split = splitNamed(access, resource, required[resource], request.coordinatorKeys, (key) => key);
  return answerAllowed(COORDINATOR_KEYS, request, context, split);
};

/** A response's groups: each a result with a group id, an error, and the operations the principal may do. */
interface DescribedGroup {
  groupId: string;
  errorCode: number;
  errorMessage?: string | null;
  authorizedOperations: number;
}

/** One of the APIs that describe groups by id. */
interface GroupDescriptions<K extends ApiKey, G extends DescribedGroup> {
  readonly apiKey: K;
  /** What the principal must be allowed to do to a group to see it described. */
  readonly operation: AclOperation;
  groupIds(request: RequestOf<K>): string[];
  withGroups(request: RequestOf<K>, groupIds: string[]): RequestOf<K>;
  groups(response: ResponseOf<K>): G[];
  includesOperations(request: RequestOf<K>, version: number): boolean;
  /** The topics a described group uses, on each of which the principal needs `topicOperation` to see it. */
  topicsOf?(group: G): Iterable<{ name?: string | null; id?: string }>;
  readonly topicOperation?: AclOperation;
  /** The group as shown when it uses a topic the principal may not describe. */
  hide?(group: G): void;
}

/**
 * DESCRIBE on each group: refused groups get GROUP_AUTHORIZATION_FAILED, the others are described. A group
 * that uses topics the principal may not describe is shown as TOPIC_AUTHORIZATION_FAILED, without its members.
 */
function describeGroups<K extends ApiKey, G extends DescribedGroup>(
  api: GroupDescriptions<K, G>,
): Authorize<K> {
  const list: EntryList<K, string, G> = {
    withEntries: (request, ids) => api.withGroups(request, ids),
    results: (response) => api.groups(response),
    errorResults: mirroredErrors(
      (request, ids) => api.withGroups(request, ids),
      (response) => api.groups(response),
    ),
  };
  return async (request, context, access) => {
    const split = splitNamed(access, "group", api.operation, api.groupIds(request), (id) => id);
    const response = await answerAllowed(list, request, context, split);
    if (response === undefined) return undefined;
    const refused = new Set([...split.refused.values()].flat());
    for (const group of api.groups(response)) {
      if (group.errorCode !== ErrorCode.NONE || refused.has(group.groupId)) continue;
      const topics = api.topicsOf?.(group);
      if (topics && api.hide && !(await mayUseAll(access, topics, api.topicOperation ?? "describe"))) {
        group.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        group.errorMessage = "The group uses topics that the client is not authorized to describe.";
        api.hide(group);
      } else if (api.includesOperations(request, context.apiVersion)) {
        group.authorizedOperations = access.authorizedOperations("group", group.groupId);
      }
    }
    return response;
  };
}

/** Whether the principal may do `operation` to every topic (named, or by id); a refusal is recorded. */
async function mayUseAll(
  access: Access,
  topics: Iterable<{ name?: string | null; id?: string }>,
  operation: AclOperation,
): Promise<boolean> {
  const named = [...topics];
  const ids = named.filter((topic) => !topic.name && topic.id).map((topic) => topic.id!);
  if (ids.length > 0) await access.topics.resolve(ids);
  return named.every((topic) => {
    const name = topic.name || (topic.id ? access.topics.nameOf(topic.id) : undefined);
    return name !== undefined && access.check("topic", name, operation);
  });
}

type AssignedTopic = { topicId: string; topicName: string };

function* assignedTopics(members: Iterable<{ assignment: { topicPartitions: AssignedTopic[] } }>) {
  for (const member of members) {
    for (const topic of member.assignment.topicPartitions) yield { name: topic.topicName, id: topic.topicId };
    const target = (member as { targetAssignment?: { topicPartitions: AssignedTopic[] } }).targetAssignment;
    for (const topic of target?.topicPartitions ?? []) yield { name: topic.topicName, id: topic.topicId };
  }
}

const describeClassicGroups = describeGroups({
  apiKey: ApiKey.DescribeGroups,
  operation: REQUIRED_OPERATIONS[ApiKey.DescribeGroups].group,
  groupIds: (request) => request.groups,
  withGroups: (request, groups) => ({ ...request, groups }),
  groups: (response) => response.groups,
  includesOperations: (request, version) =>
    hasField("DescribeGroupsRequest", "includeAuthorizedOperations", version) &&
    request.includeAuthorizedOperations,
});

const describeConsumerGroups = describeGroups({
  apiKey: ApiKey.ConsumerGroupDescribe,
  operation: REQUIRED_OPERATIONS[ApiKey.ConsumerGroupDescribe].group,
  topicOperation: REQUIRED_OPERATIONS[ApiKey.ConsumerGroupDescribe].topic,
  groupIds: (request) => request.groupIds,
  withGroups: (request, groupIds) => ({ ...request, groupIds }),
  groups: (response) => response.groups,
  includesOperations: (request) => request.includeAuthorizedOperations,
  topicsOf: (group) => assignedTopics(group.members),
  hide: (group) => {
    group.members = [];
  },
});

const describeShareGroups = describeGroups({
  apiKey: ApiKey.ShareGroupDescribe,
  operation: REQUIRED_OPERATIONS[ApiKey.ShareGroupDescribe].group,
  topicOperation: REQUIRED_OPERATIONS[ApiKey.ShareGroupDescribe].topic,
  groupIds: (request) => request.groupIds,
  withGroups: (request, groupIds) => ({ ...request, groupIds }),
  groups: (response) => response.groups,
  includesOperations: (request) => request.includeAuthorizedOperations,
  topicsOf: (group) => assignedTopics(group.members),
  hide: (group) => {
    group.members = [];
  },
});

type StreamsGroup = ResponseOf<typeof ApiKey.StreamsGroupDescribe>["groups"][number];

function* streamsTopics(group: StreamsGroup) {
  for (const subtopology of group.topology?.subtopologies ?? []) {
    for (const name of subtopology.sourceTopics) yield { name };
    for (const name of subtopology.repartitionSinkTopics) yield { name };
    for (const topic of subtopology.repartitionSourceTopics) yield { name: topic.name };
    for (const topic of subtopology.stateChangelogTopics) yield { name: topic.name };
  }
}

const describeStreamsGroups = describeGroups({
  apiKey: ApiKey.StreamsGroupDescribe,
  operation: REQUIRED_OPERATIONS[ApiKey.StreamsGroupDescribe].group,
  topicOperation: REQUIRED_OPERATIONS[ApiKey.StreamsGroupDescribe].topic,
  groupIds: (request) => request.groupIds,
  withGroups: (request, groupIds) => ({ ...request, groupIds }),
  groups: (response) => response.groups,
  includesOperations: (request) => request.includeAuthorizedOperations,
  topicsOf: streamsTopics,
  hide: (group) => {
    group.members = [];
    group.topology = null;
  },
});

/**
 * The groups the principal may describe; every group when it may describe the cluster (as Kafka) and is not
 * confined to a prefix.
 */
const listGroups: Authorize<typeof ApiKey.ListGroups> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.ListGroups];
  const response = await context.next(request);
  if (access.mayOnCluster(required.cluster) && access.confinement === undefined) return response;
  response.groups = response.groups.filter((group) => access.may("group", group.groupId, required.group));
  return response;
};

type DeletedGroupResult = ResponseOf<typeof ApiKey.DeleteGroups>["results"][number];

const DELETED_GROUPS: EntryList<typeof ApiKey.DeleteGroups, string, DeletedGroupResult> = {
  withEntries: (request, groupsNames) => ({ ...request, groupsNames }),
  results: (response) => response.results,
  errorResults: mirroredErrors(
    (request, groupsNames) => ({ ...request, groupsNames }),
    (response) => response.results,
  ),
};

/** DELETE on each group; refused groups get GROUP_AUTHORIZATION_FAILED, the others are deleted. */
const deleteGroups: Authorize<typeof ApiKey.DeleteGroups> = async (request, context, access) => {
  const operation = REQUIRED_OPERATIONS[ApiKey.DeleteGroups].group;
  const split = splitNamed(access, "group", operation, request.groupsNames, (group) => group);
  return answerAllowed(DELETED_GROUPS, request, context, split);
};

const HEARTBEAT_CHECKS = everyNamedEntity(
  ApiKey.ConsumerGroupHeartbeat,
  REQUIRED_OPERATIONS[ApiKey.ConsumerGroupHeartbeat],
);

/**
 * READ on the group and DESCRIBE on every subscribed topic named. A regex subscription is resolved by the group
 * coordinator against every topic, all of which it may describe as the proxy's own principal: as Kafka's
 * coordinator leaves out of a member's regex the topics its principal may not describe
 * (filterTopicDescribeAuthorizedTopics), the assignment the member gets keeps only those the principal may
 * describe (a topic id no one knows is left out too). Left out silently, as Kafka does.
 */
const consumerGroupHeartbeat: Authorize<typeof ApiKey.ConsumerGroupHeartbeat> = async (
  request,
  context,
  access,
) => {
  const response = await HEARTBEAT_CHECKS(request, context, access);
  const assignment = response?.assignment;
  if (assignment && assignment.topicPartitions.length > 0) {
    const operation = REQUIRED_OPERATIONS[ApiKey.ConsumerGroupHeartbeat].topic;
    await access.topics.resolve(assignment.topicPartitions.map((topic) => topic.topicId));
    assignment.topicPartitions = assignment.topicPartitions.filter((topic) => {
      const name = access.topics.nameOf(topic.topicId);
      return name !== undefined && access.may("topic", name, operation);
    });
  }
  return response;
};

type ShareTopic = { topicId: string };

/**
 * READ on the group, then READ on every topic (by id): a share fetch or acknowledgement naming a topic the
 * principal may not read is refused as a whole.
 */
function shareGroupReads<K extends typeof ApiKey.ShareFetch | typeof ApiKey.ShareAcknowledge>(
  apiKey: K,
): Authorize<K> {
  const required: { group: AclOperation; topic: AclOperation } = REQUIRED_OPERATIONS[apiKey as K & ApiKey];
  return async (request, context, access) => {
    const { groupId, topics } = request as { groupId: string | null; topics: ShareTopic[] };
    if (groupId === null || !access.check("group", groupId, required.group)) {
      return refuseWhole(context, request, "group");
    }
    const split = await splitTopics(access, required.topic, topics, {
      name: () => null,
      id: (t) => t.topicId,
    });
    if (!split.anyRefused) return context.next(request);
    const [errorCode] = split.refused.keys();
    const message = errorCode === AUTHORIZATION_FAILED.topic ? failureMessage("topic") : null;
    return refusalResponse(context.apiKey, context.apiVersion, request, errorCode!, message);
  };
}

export const GROUP_AUTHORIZERS = {
  [ApiKey.OffsetCommit]: offsetCommit,
  [ApiKey.OffsetDelete]: offsetDelete,
  [ApiKey.OffsetFetch]: offsetFetch,
  [ApiKey.FindCoordinator]: findCoordinator,
  [ApiKey.ConsumerGroupHeartbeat]: consumerGroupHeartbeat,
  [ApiKey.DescribeGroups]: describeClassicGroups,
  [ApiKey.ConsumerGroupDescribe]: describeConsumerGroups,
  [ApiKey.ShareGroupDescribe]: describeShareGroups,
  [ApiKey.StreamsGroupDescribe]: describeStreamsGroups,
  [ApiKey.ListGroups]: listGroups,
  [ApiKey.DeleteGroups]: deleteGroups,
  [ApiKey.ShareFetch]: shareGroupReads(ApiKey.ShareFetch),
  [ApiKey.ShareAcknowledge]: shareGroupReads(ApiKey.ShareAcknowledge),
};
