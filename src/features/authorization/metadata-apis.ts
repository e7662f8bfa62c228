/** Metadata, DescribeTopicPartitions and DescribeCluster: what the principal may see of topics and the cluster. */
import type { RequestContext } from "../../feature-api/feature.ts";
import {
  ApiKey,
  ErrorCode,
  hasField,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../protocol/api.ts";
import type { Access } from "./access.ts";
import { type Authorize, emptyResponse, refuseWhole } from "./answers.ts";
import { CLUSTER_NAME } from "./operations.ts";
import { REQUIRED_OPERATIONS } from "./required-operations.ts";

/** The value of an `authorizedOperations` field that was not asked for. */
const OPERATIONS_NOT_ASKED = -(2 ** 31);

type MetadataRequest = RequestOf<typeof ApiKey.Metadata>;
type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;
type MetadataTopic = MetadataResponse["topics"][number];
type MetadataRequestTopic = NonNullable<MetadataRequest["topics"]>[number];

const DESCRIBE = REQUIRED_OPERATIONS[ApiKey.Metadata].topic;
const CREATE = REQUIRED_OPERATIONS[ApiKey.Metadata].cluster;

/** A topic entry that says only that the principal may not see the topic (no id for a topic asked by name). */
function refusedTopic(name: string | null, topicId: string, errorCode: number) {
  return {
    errorCode,
    name,
    topicId,
    isInternal: false,
    partitions: [] as never[],
    topicAuthorizedOperations: OPERATIONS_NOT_ASKED,
  };
}

/** The authorized operations a response reports, when asked for, are the principal's (not the proxy's). */
function reportAuthorizedOperations(
  request: MetadataRequest,
  response: MetadataResponse,
  access: Access,
  version: number,
): void {
  if (
    hasField("MetadataRequest", "includeTopicAuthorizedOperations", version) &&
    request.includeTopicAuthorizedOperations
  ) {
    for (const topic of response.topics) {
      if (topic.errorCode === ErrorCode.NONE && topic.name !== null) {
        topic.topicAuthorizedOperations = access.authorizedOperations("topic", topic.name);
      }
    }
  }
  if (
    hasField("MetadataRequest", "includeClusterAuthorizedOperations", version) &&
    request.includeClusterAuthorizedOperations
  ) {
    response.clusterAuthorizedOperations = clusterOperations(access);
  }
}

function clusterOperations(access: Access): number {
  return access.mayOnCluster("describe") ? access.authorizedOperations("cluster", CLUSTER_NAME) : 0;
}

/**
 * Topics the principal may not create, of those a request that creates missing topics names. Before v4 the
 * request cannot say not to create them: the broker's auto.create.topics.enable decides.
 */
function uncreatable(
  request: MetadataRequest,
  names: readonly string[],
  access: Access,
  version: number,
): Set<string> {
  const out = new Set<string>();
  if (!hasField("MetadataRequest", "allowAutoTopicCreation", version)) return out;
  if (!request.allowAutoTopicCreation || access.mayOnCluster(CREATE)) return out;
  for (const name of names) if (!access.may("topic", name, CREATE)) out.add(name);
  return out;
}

/**
 * DESCRIBE on topics. A listing of all topics shows only those the principal may describe; a request naming
 * topics does not pass on those it may not describe, and they get TOPIC_AUTHORIZATION_FAILED (without their id
 * when asked by name). Topics asked by an id the proxy does not know are passed on and checked in the answer.
 * When the request would create missing topics, those the principal may not create (on the cluster or the topic)
 * are not created and get TOPIC_AUTHORIZATION_FAILED; the others are still created.
 */
const metadata: Authorize<typeof ApiKey.Metadata> = async (request, context, access) => {
  const version = context.apiVersion;
  if (request.topics === null || request.topics.length === 0) {
    const response = await context.next(request);
    response.topics = response.topics.filter(
      (topic) => topic.name !== null && access.may("topic", topic.name, DESCRIBE),
    );
    reportAuthorizedOperations(request, response, access, version);
    return response;
  }
  const byId = (topic: MetadataRequestTopic) => !topic.name && topic.topicId !== ZERO_UUID;
  const unnamed = request.topics.filter(byId).map((topic) => topic.topicId);
  if (unnamed.length > 0) await access.topics.resolve(unnamed);
  const asked: MetadataRequestTopic[] = [];
  const refused: MetadataTopic[] = [];
  for (const topic of request.topics) {
    if (!byId(topic)) {
      const name = topic.name ?? "";
      if (access.check("topic", name, DESCRIBE)) asked.push(topic);
      else refused.push(refusedTopic(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      continue;
    }
    const name = access.topics.nameOf(topic.topicId);
    if (name === undefined || access.check("topic", name, DESCRIBE)) asked.push(topic);
    else refused.push(refusedTopic(null, topic.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
  }
  const askedNames = new Set(asked.filter((topic) => !byId(topic)).map((topic) => topic.name ?? ""));
  const askedIds = new Set(asked.filter(byId).map((topic) => topic.topicId));
  const notToCreate = uncreatable(request, [...askedNames], access, version);
  const createsLater = notToCreate.size > 0;
  const forwarded = {
    ...request,
    topics: asked,
    allowAutoTopicCreation: request.allowAutoTopicCreation && !createsLater,
  };
  // Passed on even with no topic left: the answer's brokers and cluster id are the client's to see.
  const response = await context.next(forwarded);
  const toCreate: string[] = [];
  const answered: MetadataTopic[] = [];
  for (const topic of response.topics) {
    const name = topic.name;
    if (name !== null && askedNames.has(name)) {
      const missing = topic.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      if (missing && notToCreate.has(name)) {
        access.denied("topic", name, CREATE);
        answered.push(refusedTopic(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        continue;
      }
      if (missing && createsLater) toCreate.push(name);
      answered.push(topic);
    } else if (askedIds.has(topic.topicId)) {
      // Asked by an id the proxy did not know: the broker named it.
      const visible = name === null || access.check("topic", name, DESCRIBE);
      answered.push(
        visible ? topic : refusedTopic(null, topic.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED),
      );
    }
    // Anything else was not asked for (a v0 request whose list ended up empty asks for every topic).
  }
  response.topics = await withCreated(answered, toCreate, request, context);
  response.topics.push(...refused);
  reportAuthorizedOperations(request, response, access, version);
  return response;
};

/**
 * The topics answered, with those the principal may create (but that were asked for with others it may not)
 * asked for again, this time creating them.
 */
async function withCreated(
  answered: MetadataTopic[],
  toCreate: readonly string[],
  request: MetadataRequest,
  context: RequestContext<typeof ApiKey.Metadata>,
): Promise<MetadataTopic[]> {
  if (toCreate.length === 0) return answered;
  const created = await context.send(ApiKey.Metadata, context.apiVersion, {
    ...request,
    topics: toCreate.map((name) => ({ name, topicId: ZERO_UUID })),
    allowAutoTopicCreation: true,
  });
  const byName = new Map(created.topics.map((topic) => [topic.name, topic]));
  return answered.map((topic) => (topic.name !== null && byName.get(topic.name)) || topic);
}

type PartitionsRequest = RequestOf<typeof ApiKey.DescribeTopicPartitions>;
type PartitionsResponse = ResponseOf<typeof ApiKey.DescribeTopicPartitions>;
type PartitionsTopic = PartitionsResponse["topics"][number];
type Cursor = NonNullable<PartitionsResponse["nextCursor"]>;

const DESCRIBE_PARTITIONS = REQUIRED_OPERATIONS[ApiKey.DescribeTopicPartitions].topic;

function reportTopicOperations(topics: PartitionsTopic[], access: Access): void {
  for (const topic of topics) {
    if (topic.errorCode === ErrorCode.NONE && topic.name !== null) {
      topic.topicAuthorizedOperations = access.authorizedOperations("topic", topic.name);
    }
  }
}

/**
 * DESCRIBE on topics, as Metadata. A listing is paged by the broker over every topic: a page whose next cursor
 * names a topic the principal may not see is followed by the next pages until one that it may, so that no
 * cursor names a hidden topic.
 */
const describeTopicPartitions: Authorize<typeof ApiKey.DescribeTopicPartitions> = async (
  request,
  context,
  access,
) => {
  const visible = (topic: PartitionsTopic) =>
    topic.name !== null && access.may("topic", topic.name, DESCRIBE_PARTITIONS);
  if (request.topics.length === 0) {
    const response = await context.next(request);
    const topics = response.topics.filter(visible);
    let cursor = response.nextCursor;
    while (cursor !== null && !access.may("topic", cursor.topicName, DESCRIBE_PARTITIONS)) {
      const page: PartitionsResponse = await context.send(
        ApiKey.DescribeTopicPartitions,
        context.apiVersion,
        {
          ...request,
          cursor: { ...cursor },
        },
      );
      topics.push(...page.topics.filter(visible));
      cursor = advances(cursor, page.nextCursor) ? page.nextCursor : null;
    }
    response.topics = topics;
    response.nextCursor = cursor;
    reportTopicOperations(response.topics, access);
    return response;
  }
  const asked: PartitionsRequest["topics"] = [];
  const refused: PartitionsTopic[] = [];
  for (const topic of request.topics) {
    if (access.check("topic", topic.name, DESCRIBE_PARTITIONS)) asked.push(topic);
    else refused.push(refusedTopic(topic.name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
  }
  const forwarded = { ...request, topics: asked, cursor: request.cursor };
  const cursorTopic = request.cursor?.topicName;
  const named = (topics: readonly { name: string }[]) => topics.some((topic) => topic.name === cursorTopic);
  if (cursorTopic !== undefined && named(request.topics) && !named(asked)) {
    // The broker wants the cursor's topic among those asked for: the page starts after it instead.
    forwarded.cursor = null;
    forwarded.topics = asked.filter((topic) => topic.name > cursorTopic);
  }
  const response =
    forwarded.topics.length > 0 ? await context.next(forwarded) : emptyResponse(context, forwarded);
  reportTopicOperations(response.topics, access);
  response.topics.push(...refused);
  return response;
};

/** Whether the broker's next cursor moved on from the last one (a cursor that does not would page forever). */
function advances(last: Cursor, next: Cursor | null): boolean {
  return next !== null && (next.topicName !== last.topicName || next.partitionIndex !== last.partitionIndex);
}

/** Needs nothing; the cluster's authorized operations, when asked for, are the principal's. */
const describeCluster: Authorize<typeof ApiKey.DescribeCluster> = async (request, context, access) => {
  if (!access.admitted) {
    access.denied("cluster", CLUSTER_NAME, "describe");
    return refuseWhole(context, request, "cluster");
  }
  const response = await context.next(request);
  if (request.includeClusterAuthorizedOperations)
    response.clusterAuthorizedOperations = clusterOperations(access);
  return response;
};

export const METADATA_AUTHORIZERS = {
  [ApiKey.Metadata]: metadata,
  [ApiKey.DescribeTopicPartitions]: describeTopicPartitions,
  [ApiKey.DescribeCluster]: describeCluster,
};
