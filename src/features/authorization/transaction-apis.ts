/** Producer ids and transactions. */
import { ApiKey, ErrorCode, hasField, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import {
  type Authorize,
  answerAllowed,
  type EntryList,
  emptyResponse,
  mirroredErrors,
  refuseWhole,
  splitNamed,
  splitTopics,
} from "./answers.ts";
import { CLUSTER_NAME } from "./operations.ts";
import { REQUIRED_OPERATIONS } from "./required-operations.ts";

/**
 * A transactional producer needs WRITE on its transactional id (and two_phase_commit to enable 2PC); an
 * idempotent one idempotent_write on the cluster, or WRITE on some topic (as Kafka since 3.0).
 */
const initProducerId: Authorize<typeof ApiKey.InitProducerId> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.InitProducerId];
  const transactionalId = request.transactionalId;
  if (transactionalId !== null) {
    const twoPhase = hasField("InitProducerIdRequest", "enable2Pc", context.apiVersion) && request.enable2Pc;
    if (
      !access.check("transactional_id", transactionalId, required.transactional_id) ||
      (twoPhase && !access.check("transactional_id", transactionalId, "two_phase_commit"))
    ) {
      return refuseWhole(context, request, "transactional_id");
    }
  } else if (!access.mayOnCluster(required.cluster) && !access.mayOnSome("topic", "write")) {
    access.denied("cluster", CLUSTER_NAME, required.cluster);
    return refuseWhole(context, request, "cluster");
  }
  return context.next(request);
};

type TxnTopic = RequestOf<typeof ApiKey.AddPartitionsToTxn>["v3AndBelowTopics"][number];
type TxnTopicResult = ResponseOf<typeof ApiKey.AddPartitionsToTxn>["resultsByTopicV3AndBelow"][number];

function txnTopicResults(topics: readonly TxnTopic[], errorCode: number): TxnTopicResult[] {
  return topics.map((topic) => ({
    name: topic.name,
    resultsByPartition: topic.partitions.map((partitionIndex) => ({
      partitionIndex,
      partitionErrorCode: errorCode,
    })),
  }));
}

/**
 * Clients' versions: WRITE on the transactional id (else every partition gets
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then WRITE on every topic; as Kafka, one refused topic fails the whole
 * request: refused topics get TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED. Brokers' versions
 * (batched transactions) need cluster_action.
 */
const addPartitionsToTxn: Authorize<typeof ApiKey.AddPartitionsToTxn> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.AddPartitionsToTxn];
  if (hasField("AddPartitionsToTxnRequest", "transactions", context.apiVersion)) {
    return access.checkOnCluster(required.cluster)
      ? context.next(request)
      : refuseWhole(context, request, "cluster");
  }
  const topics = request.v3AndBelowTopics;
  const answer = (results: TxnTopicResult[]) => {
    const response = emptyResponse(context, { ...request, v3AndBelowTopics: [] });
    response.resultsByTopicV3AndBelow = results;
    return response;
  };
  if (!access.check("transactional_id", request.v3AndBelowTransactionalId, required.transactional_id)) {
    return answer(txnTopicResults(topics, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
  }
  const split = await splitTopics(access, required.topic, topics, { name: (topic) => topic.name });
  if (!split.anyRefused) return context.next(request);
  const results = txnTopicResults(split.allowed, ErrorCode.OPERATION_NOT_ATTEMPTED);
  for (const [errorCode, refused] of split.refused) results.push(...txnTopicResults(refused, errorCode));
  return answer(results);
};

type TxnCommitTopic = RequestOf<typeof ApiKey.TxnOffsetCommit>["topics"][number];
type TxnCommitTopicResult = ResponseOf<typeof ApiKey.TxnOffsetCommit>["topics"][number];

const TXN_COMMIT_TOPICS: EntryList<typeof ApiKey.TxnOffsetCommit, TxnCommitTopic, TxnCommitTopicResult> = {
  withEntries: (request, topics) => ({ ...request, topics }),
  results: (response) => response.topics,
  errorResults: mirroredErrors(
    (request, topics) => ({ ...request, topics }),
    (response) => response.topics,
  ),
};

/** WRITE on the transactional id, READ on the group, then READ on each topic (refused topics get the error). */
const txnOffsetCommit: Authorize<typeof ApiKey.TxnOffsetCommit> = async (request, context, access) => {
  const required = REQUIRED_OPERATIONS[ApiKey.TxnOffsetCommit];
  if (!access.check("transactional_id", request.transactionalId, required.transactional_id)) {
    return refuseWhole(context, request, "transactional_id");
  }
  if (!access.check("group", request.groupId, required.group)) return refuseWhole(context, request, "group");
  const byId = hasField("TxnOffsetCommitRequest", "topics.topicId", context.apiVersion);
  const split = await splitTopics(access, required.topic, request.topics, {
    name: (topic) => (byId ? null : topic.name),
    id: (topic) => topic.topicId,
  });
  return answerAllowed(TXN_COMMIT_TOPICS, request, context, split);
};

type TransactionState = ResponseOf<typeof ApiKey.DescribeTransactions>["transactionStates"][number];

const NO_PRODUCER_ID = -1n;
const NO_PRODUCER_EPOCH = -1;
const NO_TIMESTAMP = -1n;

const DESCRIBED_TRANSACTIONS: EntryList<typeof ApiKey.DescribeTransactions, string, TransactionState> = {
  withEntries: (request, transactionalIds) => ({ ...request, transactionalIds }),
  results: (response) => response.transactionStates,
  errorResults: (_context, _request, ids, errorCode) =>
    ids.map((transactionalId) => ({
      errorCode,
      transactionalId,
      transactionState: "",
      transactionTimeoutMs: 0,
      transactionStartTimeMs: NO_TIMESTAMP,
      producerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
      topics: [],
    })),
};

/**
 * DESCRIBE on each transactional id (refused ones get TRANSACTIONAL_ID_AUTHORIZATION_FAILED); a transaction's
 * partitions are shown only for topics the principal may describe.
 */
const describeTransactions: Authorize<typeof ApiKey.DescribeTransactions> = async (
  request,
  context,
  access,
) => {
  const required = REQUIRED_OPERATIONS[ApiKey.DescribeTransactions];
  const split = splitNamed(
    access,
    "transactional_id",
    required.transactional_id,
    request.transactionalIds,
    (id) => id,
  );
  const response = await answerAllowed(DESCRIBED_TRANSACTIONS, request, context, split);
  for (const state of response?.transactionStates ?? []) {
    state.topics = state.topics.filter((topic) => access.may("topic", topic.topic, required.topic));
  }
  return response;
};

/** Only the transactions whose ids the principal may describe. */
const listTransactions: Authorize<typeof ApiKey.ListTransactions> = async (request, context, access) => {
  const operation = REQUIRED_OPERATIONS[ApiKey.ListTransactions].transactional_id;
  const response = await context.next(request);
  response.transactionStates = response.transactionStates.filter((state) =>
    access.may("transactional_id", state.transactionalId, operation),
  );
  return response;
};

export const TRANSACTION_AUTHORIZERS = {
  [ApiKey.InitProducerId]: initProducerId,
  [ApiKey.AddPartitionsToTxn]: addPartitionsToTxn,
  [ApiKey.TxnOffsetCommit]: txnOffsetCommit,
  [ApiKey.DescribeTransactions]: describeTransactions,
  [ApiKey.ListTransactions]: listTransactions,
};
