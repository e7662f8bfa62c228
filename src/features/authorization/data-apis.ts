/** Produce, Fetch and the other APIs that read or write partitions of topics. */
import { ApiKey, ErrorCode, hasField, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import {
  type Authorize,
  answerAllowed,
  type EntryList,
  emptyResponse,
  mirroredErrors,
  splitTopics,
} from "./answers.ts";
import { REQUIRED_OPERATIONS } from "./required-operations.ts";

/** What a partition's result says when it has no offset, timestamp, epoch, leader or replica. */
const NO_OFFSET = -1n;
const NO_TIMESTAMP = -1n;
const NO_EPOCH = -1;
const NO_NODE = -1;
const NO_RECORDS = Buffer.alloc(0);

type ProduceRequest = RequestOf<typeof ApiKey.Produce>;
type ProduceTopic = ProduceRequest["topicData"][number];
type ProduceTopicResult = ResponseOf<typeof ApiKey.Produce>["responses"][number];

function produceErrors(topics: readonly ProduceTopic[], errorCode: number): ProduceTopicResult[] {
  return topics.map((topic) => ({
    name: topic.name,
    topicId: topic.topicId,
    partitionResponses: topic.partitionData.map((partition) => ({
      index: partition.index,
      errorCode,
      baseOffset: NO_OFFSET,
      logAppendTimeMs: NO_TIMESTAMP,
      logStartOffset: NO_OFFSET,
      recordErrors: [],
      errorMessage: null,
      currentLeader: { leaderId: NO_NODE, leaderEpoch: NO_EPOCH },
    })),
  }));
}

const PRODUCE_TOPICS: EntryList<typeof ApiKey.Produce, ProduceTopic, ProduceTopicResult> = {
  withEntries: (request, topicData) => ({ ...request, topicData }),
  results: (response) => response.responses,
  errorResults: (_context, _request, topics, errorCode) => produceErrors(topics, errorCode),
};

/**
 * WRITE on every topic; a transactional producer also needs WRITE on its transactional id, or every partition
 * gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Refused topics are not passed on; with acks=0 they are dropped.
 */
const produce: Authorize<typeof ApiKey.Produce> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.Produce];
  const send = { expectResponse: request.acks !== 0 };
  if (
    request.transactionalId !== null &&
    !access.check("transactional_id", request.transactionalId, required.transactional_id)
  ) {
    if (!send.expectResponse) return undefined;
    const response = emptyResponse(context, { ...request, topicData: [] });
    response.responses = produceErrors(request.topicData, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    return response;
  }
  const byId = hasField("ProduceRequest", "topicData.topicId", context.apiVersion);
  const split = await splitTopics(access, required.topic, request.topicData, {
    name: (topic) => (byId ? null : topic.name),
    id: (topic) => topic.topicId,
  });
  return answerAllowed(PRODUCE_TOPICS, request, context, split, { send });
};

type FetchRequest = RequestOf<typeof ApiKey.Fetch>;
type FetchTopic = FetchRequest["topics"][number];
type FetchTopicResult = ResponseOf<typeof ApiKey.Fetch>["responses"][number];

function fetchErrors(topics: readonly FetchTopic[], errorCode: number): FetchTopicResult[] {
  return topics.map((topic) => ({
    topic: topic.topic,
    topicId: topic.topicId,
    partitions: topic.partitions.map((partition) => ({
      partitionIndex: partition.partition,
      errorCode,
      highWatermark: NO_OFFSET,
      lastStableOffset: NO_OFFSET,
      logStartOffset: NO_OFFSET,
      divergingEpoch: { epoch: NO_EPOCH, endOffset: NO_OFFSET },
      currentLeader: { leaderId: NO_NODE, leaderEpoch: NO_EPOCH },
      snapshotId: { endOffset: NO_OFFSET, epoch: NO_EPOCH },
      abortedTransactions: null,
      preferredReadReplica: NO_NODE,
      records: NO_RECORDS,
    })),
  }));
}

const FETCH_TOPICS: EntryList<typeof ApiKey.Fetch, FetchTopic, FetchTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.responses,
  errorResults: (_context, _request, topics, errorCode) => fetchErrors(topics, errorCode),
};

/** The replica a fetch comes from: a broker's id, or negative for consumers. */
function fetchingReplica(request: FetchRequest, version: number): number {
  return hasField("FetchRequest", "replicaState", version)
    ? request.replicaState.replicaId
    : request.replicaId;
}

/**
 * READ on every topic (names resolved from ids from v13). Refused topics are not passed on and get the error in
 * the answer; the request is passed on even when none is left, because a fetch session answers for the
 * partitions it already holds. A follower's fetch needs cluster_action.
 */
const fetch: Authorize<typeof ApiKey.Fetch> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.Fetch];
  if (fetchingReplica(request, context.apiVersion) >= 0 && !access.checkOnCluster(required.cluster)) {
    const response = emptyResponse(context, { ...request, topics: [] });
    response.responses = fetchErrors(request.topics, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    return response;
  }
  const byId = hasField("FetchRequest", "topics.topicId", context.apiVersion);
  const split = await splitTopics(access, required.topic, request.topics, {
    name: (topic) => (byId ? null : topic.topic),
    id: (topic) => topic.topicId,
  });
  // A fetch session answers for partitions added by earlier requests: only those of readable topics get out.
  const screen = (response: ResponseOf<typeof ApiKey.Fetch>) => {
    response.responses = response.responses.filter((topic) => {
      const name = byId ? access.topics.nameOf(topic.topicId) : topic.topic;
      return name !== undefined && access.may("topic", name, required.topic);
    });
  };
  return answerAllowed(FETCH_TOPICS, request, context, split, { forwardEmpty: true, screen });
};

type ListOffsetsTopic = RequestOf<typeof ApiKey.ListOffsets>["topics"][number];
type ListOffsetsTopicResult = ResponseOf<typeof ApiKey.ListOffsets>["topics"][number];

const LIST_OFFSETS_TOPICS: EntryList<typeof ApiKey.ListOffsets, ListOffsetsTopic, ListOffsetsTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

/** DESCRIBE on every topic. */
const listOffsets: Authorize<typeof ApiKey.ListOffsets> = async (request, context, access) => {
  const split = await splitTopics(access, REQUIRED_OPERATIONS[ApiKey.ListOffsets].topic, request.topics, {
    name: (topic) => topic.name,
  });
  return answerAllowed(LIST_OFFSETS_TOPICS, request, context, split);
};

type EpochTopic = RequestOf<typeof ApiKey.OffsetForLeaderEpoch>["topics"][number];
type EpochTopicResult = ResponseOf<typeof ApiKey.OffsetForLeaderEpoch>["topics"][number];

const EPOCH_TOPICS: EntryList<typeof ApiKey.OffsetForLeaderEpoch, EpochTopic, EpochTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: (_context, _request, topics, errorCode) =>
    topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => ({
        errorCode,
        partition: partition.partition,
        leaderEpoch: NO_EPOCH,
        endOffset: NO_OFFSET,
      })),
    })),
};

/** DESCRIBE on every topic, unless the principal has cluster_action (a broker's own request). */
const offsetForLeaderEpoch: Authorize<typeof ApiKey.OffsetForLeaderEpoch> = async (
  request,
  context,
  access,
) => {
  const required = REQUIRED_OPERATIONS[ApiKey.OffsetForLeaderEpoch];
  if (access.mayOnCluster(required.cluster)) return context.next(request);
  const split = await splitTopics(access, required.topic, request.topics, { name: (topic) => topic.topic });
  return answerAllowed(EPOCH_TOPICS, request, context, split);
};

type DeleteRecordsTopic = RequestOf<typeof ApiKey.DeleteRecords>["topics"][number];
type DeleteRecordsTopicResult = ResponseOf<typeof ApiKey.DeleteRecords>["topics"][number];

const DELETE_RECORDS_TOPICS: EntryList<
  typeof ApiKey.DeleteRecords,
  DeleteRecordsTopic,
  DeleteRecordsTopicResult
> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: (_context, _request, topics, errorCode) =>
    topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        lowWatermark: NO_OFFSET,
        errorCode,
      })),
    })),
};

/** DELETE on every topic. */
const deleteRecords: Authorize<typeof ApiKey.DeleteRecords> = async (request, context, access) => {
  const split = await splitTopics(access, REQUIRED_OPERATIONS[ApiKey.DeleteRecords].topic, request.topics, {
    name: (topic) => topic.name,
  });
  return answerAllowed(DELETE_RECORDS_TOPICS, request, context, split);
};

type ProducersTopic = RequestOf<typeof ApiKey.DescribeProducers>["topics"][number];
type ProducersTopicResult = ResponseOf<typeof ApiKey.DescribeProducers>["topics"][number];

const PRODUCERS_TOPICS: EntryList<typeof ApiKey.DescribeProducers, ProducersTopic, ProducersTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: (_context, _request, topics, errorCode) =>
    topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitionIndexes.map((partitionIndex) => ({
        partitionIndex,
        errorCode,
        errorMessage: null,
        activeProducers: [],
      })),
    })),
};

/** READ on every topic. */
const describeProducers: Authorize<typeof ApiKey.DescribeProducers> = async (request, context, access) => {
  const split = await splitTopics(
    access,
    REQUIRED_OPERATIONS[ApiKey.DescribeProducers].topic,
    request.topics,
    {
      name: (topic) => topic.name,
    },
  );
  return answerAllowed(PRODUCERS_TOPICS, request, context, split);
};

export const DATA_AUTHORIZERS = {
  [ApiKey.Produce]: produce,
  [ApiKey.Fetch]: fetch,
  [ApiKey.ListOffsets]: listOffsets,
  [ApiKey.OffsetForLeaderEpoch]: offsetForLeaderEpoch,
  [ApiKey.DeleteRecords]: deleteRecords,
  [ApiKey.DescribeProducers]: describeProducers,
};
