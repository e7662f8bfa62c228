/** Topic administration and configs. */
import {
  ApiKey,
  ErrorCode,
  hasField,
  kafkaError,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../protocol/api.ts";
import type { Access } from "./access.ts";
import {
  type Authorize,
  answerAllowed,
  type EntryList,
  failureMessage,
  mirroredErrors,
  refuseWhole,
  Split,
  splitTopics,
} from "./answers.ts";
import { type AclOperation, AUTHORIZATION_FAILED, CLUSTER_NAME, type ResourceType } from "./operations.ts";
import { REQUIRED_OPERATIONS } from "./required-operations.ts";

/** The resource types of config requests (Kafka's ConfigResource.Type) that name a topic or a group. */
const CONFIG_RESOURCE_TYPES = { topic: 2, group: 32 } as const;

/**
 * Whether the principal may do `operation` to the topic, or to every topic through the cluster (create, delete):
 * the cluster's permission does not reach past the prefix a principal is confined to. A refusal is recorded.
 */
function mayThroughCluster(access: Access, name: string, operation: AclOperation): boolean {
  const confinement = access.confinement;
  const inside = confinement === undefined || name.startsWith(confinement);
  if (inside && access.mayOnCluster(operation)) return true;
  return access.check("topic", name, operation);
}

function splitThroughCluster<E>(
  access: Access,
  operation: AclOperation,
  entries: readonly E[],
  name: (entry: E) => string,
): Split<E> {
  const split = new Split<E>();
  for (const entry of entries) {
    if (mayThroughCluster(access, name(entry), operation)) split.allow(entry);
    else split.refuse(entry, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  }
  return split;
}

type CreatedTopic = RequestOf<typeof ApiKey.CreateTopics>["topics"][number];
type CreatedTopicResult = ResponseOf<typeof ApiKey.CreateTopics>["topics"][number];

const CREATED_TOPICS: EntryList<typeof ApiKey.CreateTopics, CreatedTopic, CreatedTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

/**
 * CREATE on the cluster or on each topic; refused topics are not created and get TOPIC_AUTHORIZATION_FAILED. A
 * created topic's configs are shown only with describe_configs on it.
 */
const createTopics: Authorize<typeof ApiKey.CreateTopics> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.CreateTopics];
  const split = splitThroughCluster(access, required.topic, request.topics, (topic) => topic.name);
  const response = await answerAllowed(CREATED_TOPICS, request, context, split);
  for (const topic of response?.topics ?? []) {
    if (topic.errorCode === ErrorCode.NONE && !access.may("topic", topic.name, "describe_configs")) {
      topic.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      topic.configs = null;
    }
  }
  return response;
};

type DeletedTopicResult = ResponseOf<typeof ApiKey.DeleteTopics>["responses"][number];
type DeletedTopic = RequestOf<typeof ApiKey.DeleteTopics>["topics"][number];

const DELETED_TOPIC_NAMES: EntryList<typeof ApiKey.DeleteTopics, string, DeletedTopicResult> = {
  withEntries: (request, topicNames) => ({ ...request, topicNames }),
  results: (response) => response.responses,
  errorResults: (_context, _request, names, errorCode) =>
    names.map((name) => ({ name, topicId: ZERO_UUID, errorCode, errorMessage: null })),
};

/** Topics named by id keep their name hidden when refused: a client that knows only the id learns nothing. */
const DELETED_TOPICS: EntryList<typeof ApiKey.DeleteTopics, DeletedTopic, DeletedTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.responses,
  errorResults: (_context, _request, topics, errorCode) =>
    topics.map((topic) => ({ name: topic.name, topicId: topic.topicId, errorCode, errorMessage: null })),
};

/** DELETE on the cluster or on each topic (names resolved from ids from v6); refused topics are kept. */
const deleteTopics: Authorize<typeof ApiKey.DeleteTopics> = async (request, context, access) => {
  const operation = REQUIRED_OPERATIONS[ApiKey.DeleteTopics].topic;
  if (!hasField("DeleteTopicsRequest", "topics", context.apiVersion)) {
    const split = splitThroughCluster(access, operation, request.topicNames, (name) => name);
    return answerAllowed(DELETED_TOPIC_NAMES, request, context, split);
  }
  const ids = request.topics.filter((topic) => !topic.name).map((topic) => topic.topicId);
  if (ids.length > 0) await access.topics.resolve(ids);
  const split = new Split<DeletedTopic>();
  for (const topic of request.topics) {
    const name = topic.name || access.topics.nameOf(topic.topicId);
    if (name === undefined) {
      access.denied("topic", `id:${topic.topicId}`, operation);
      split.refuse(topic, ErrorCode.UNKNOWN_TOPIC_ID);
    } else if (mayThroughCluster(access, name, operation)) {
      split.allow(topic);
    } else {
      split.refuse(topic, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    }
  }
  return answerAllowed(DELETED_TOPICS, request, context, split);
};

type GrownTopic = RequestOf<typeof ApiKey.CreatePartitions>["topics"][number];
type GrownTopicResult = ResponseOf<typeof ApiKey.CreatePartitions>["results"][number];

const GROWN_TOPICS: EntryList<typeof ApiKey.CreatePartitions, GrownTopic, GrownTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.results,
  errorResults: (_context, _request, topics, errorCode) =>
    topics.map((topic) => ({ name: topic.name, errorCode, errorMessage: failureMessage("topic") })),
};

/** ALTER on each topic. */
const createPartitions: Authorize<typeof ApiKey.CreatePartitions> = async (request, context, access) => {
  const split = await splitTopics(
    access,
    REQUIRED_OPERATIONS[ApiKey.CreatePartitions].topic,
    request.topics,
    {
      name: (topic) => topic.name,
    },
  );
  return answerAllowed(GROWN_TOPICS, request, context, split);
};

/** The resource a config request's entry stands for: a topic, a group, or the cluster (brokers and the rest). */
function configResource(entry: { resourceType: number; resourceName: string }): [ResourceType, string] {
  if (entry.resourceType === CONFIG_RESOURCE_TYPES.topic) return ["topic", entry.resourceName];
  if (entry.resourceType === CONFIG_RESOURCE_TYPES.group) return ["group", entry.resourceName];
  return ["cluster", CLUSTER_NAME];
}

function splitConfigResources<E extends { resourceType: number; resourceName: string }>(
  access: Access,
  operation: AclOperation,
  entries: readonly E[],
): Split<E> {
  const split = new Split<E>();
  for (const entry of entries) {
    const [resource, name] = configResource(entry);
    if (access.check(resource, name, operation)) split.allow(entry);
    else split.refuse(entry, AUTHORIZATION_FAILED[resource]);
  }
  return split;
}

type DescribedConfig = RequestOf<typeof ApiKey.DescribeConfigs>["resources"][number];
type DescribedConfigResult = ResponseOf<typeof ApiKey.DescribeConfigs>["results"][number];

const DESCRIBED_CONFIGS: EntryList<typeof ApiKey.DescribeConfigs, DescribedConfig, DescribedConfigResult> = {
  withEntries: (request, resources) => ({ ...request, resources }),
  results: (response) => response.results,
  errorResults: (_context, _request, resources, errorCode) =>
    resources.map((resource) => ({
      errorCode,
      errorMessage: kafkaError(errorCode)?.message ?? null,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: [],
    })),
};

/** describe_configs on each topic or group, or on the cluster for brokers, broker loggers and client metrics. */
const describeConfigs: Authorize<typeof ApiKey.DescribeConfigs> = async (request, context, access) => {
  const operation = REQUIRED_OPERATIONS[ApiKey.DescribeConfigs].topic;
  const split = splitConfigResources(access, operation, request.resources);
  return answerAllowed(DESCRIBED_CONFIGS, request, context, split);
};

type AlterConfigsKey = typeof ApiKey.AlterConfigs | typeof ApiKey.IncrementalAlterConfigs;
type AlteredConfig = { resourceType: number; resourceName: string };
type AlteredConfigResult = ResponseOf<AlterConfigsKey>["responses"][number];

/** alter_configs on each topic or group, or on the cluster for the other resource types. */
function alterConfigs<K extends AlterConfigsKey>(apiKey: K): Authorize<K> {
  const list: EntryList<K, AlteredConfig, AlteredConfigResult> = {
    withEntries: (request, resources) => ({ ...request, resources }) as RequestOf<K>,
    results: (response) => response.responses,
    errorResults: (_context, _request, resources, errorCode) =>
      resources.map((resource) => ({
        errorCode,
        errorMessage: kafkaError(errorCode)?.message ?? null,
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
      })),
  };
  const operation = REQUIRED_OPERATIONS[apiKey as AlterConfigsKey].topic;
  return (request, context, access) =>
    answerAllowed(list, request, context, splitConfigResources(access, operation, request.resources));
}

/** ALTER on the cluster, or else cluster_action (a broker's own request). */
const writeTxnMarkers: Authorize<typeof ApiKey.WriteTxnMarkers> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.WriteTxnMarkers];
  if (access.mayOnCluster(required.cluster) || access.checkOnCluster("cluster_action"))
    return context.next(request);
  return refuseWhole(context, request, "cluster");
};

/**
 * cluster_action, as every controller-to-controller API. Its refusal needs its records set: the generic refusal
 * leaves them null, which no version of the response can carry.
 */
const fetchSnapshot: Authorize<typeof ApiKey.FetchSnapshot> = async (request, context, access) => {
  if (access.checkOnCluster(REQUIRED_OPERATIONS[ApiKey.FetchSnapshot].cluster)) return context.next(request);
  const response = refuseWhole(context, request, "cluster");
  for (const topic of response.topics) {
    for (const partition of topic.partitions) partition.unalignedRecords = NO_RECORDS;
  }
  return response;
};

const NO_RECORDS = Buffer.alloc(0);

export const ADMIN_AUTHORIZERS = {
  [ApiKey.FetchSnapshot]: fetchSnapshot,
  [ApiKey.CreateTopics]: createTopics,
  [ApiKey.DeleteTopics]: deleteTopics,
  [ApiKey.CreatePartitions]: createPartitions,
  [ApiKey.DescribeConfigs]: describeConfigs,
  [ApiKey.AlterConfigs]: alterConfigs(ApiKey.AlterConfigs),
  [ApiKey.IncrementalAlterConfigs]: alterConfigs(ApiKey.IncrementalAlterConfigs),
  [ApiKey.WriteTxnMarkers]: writeTxnMarkers,
};
