import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { type ApiKey, ErrorCode, hasField } from "../../../protocol/api.ts";
import type { TxnOffsetCommitRequest } from "../../../protocol/generated/messages/txn-offset-commit-request.ts";
import type { TxnOffsetCommitResponse } from "../../../protocol/generated/messages/txn-offset-commit-response.ts";
import type { VirtualizationContext } from "../context.ts";

type TxnOffsetCommitContext = RequestContext<typeof ApiKey.TxnOffsetCommit>;

/**
 * Transactions on virtualized topics are not supported yet: a TxnOffsetCommit naming one is refused for every
 * partition (the offsets of a transaction commit together or not at all), with the reason in the log.
 */
export class RefuseTransactionalCommits implements ApiHandler<typeof ApiKey.TxnOffsetCommit> {
  private readonly context: VirtualizationContext;

  constructor(context: VirtualizationContext) {
    this.context = context;
  }

  async onRequest(
    request: TxnOffsetCommitRequest,
    exchange: TxnOffsetCommitContext,
  ): Promise<TxnOffsetCommitResponse> {
    const byId = hasField("TxnOffsetCommitRequest", "topics.topicId", exchange.apiVersion);
    if (byId && request.topics.some((t) => this.context.topics.nameOf(t.topicId) === undefined)) {
      await this.context.topics.resolveIds(request.topics.map((t) => t.topicId)).catch(() => undefined);
    }
    return this.refusal(exchange, request, byId) ?? exchange.next(request);
  }

  /** The answer refusing every partition when the commit names a virtualized topic; undefined otherwise. */
  private refusal(
    exchange: TxnOffsetCommitContext,
    request: TxnOffsetCommitRequest,
    byId: boolean,
  ): TxnOffsetCommitResponse | undefined {
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
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((t) => ({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.INVALID_REQUEST,
        })),
      })),
    };
  }
}
