import type { ApiHandler, ExchangeInfo, RequestContext } from "../../../feature-api/feature.ts";
import {
  type ApiKey,
  ErrorCode,
  hasField,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../protocol/api.ts";
import type {
  PartitionProduceData,
  TopicProduceData,
} from "../../../protocol/generated/messages/produce-request.ts";
import type {
  PartitionProduceResponse,
  TopicProduceResponse,
} from "../../../protocol/generated/messages/produce-response.ts";
import { produceNamesTopic } from "../../../protocol/produce-request-peek.ts";
import {
  BatchLayout,
  CompressionType,
  CURRENT_MAGIC,
  DecompressionLimitError,
  RecordBatchView,
  type SpliceOptions,
  setHeaderOnEveryRecord,
  withProducerState,
} from "../../../records/index.ts";
import type { VirtualizationContext } from "../context.ts";
import { groupOf, physicalOf, type VirtualLayout, virtualOf } from "../mapping/rules.ts";
import { isUnresolvedId, lookUpVirtualCounts } from "./topic-lookups.ts";

type Produce = typeof ApiKey.Produce;
type ProduceRequest = RequestOf<Produce>;
type ProduceResponse = ResponseOf<Produce>;

/** Producer ids of group g >= 1 are offset by g * 2^48, so each (producer id, p) pair stands for exactly one v. */
export const PRODUCER_ID_GROUP_STRIDE = 2n ** 48n;

interface SubRequest {
  readonly group: number;
  readonly topics: Map<string, TopicProduceData>;
}

function refusal(index: number, errorCode: number, errorMessage: string): PartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
  };
}

/**
 * Produce to virtualized topics: each batch for virtual partition v is written to p = v mod P with the marker
 * header on every record. The request is split by group g = floor(v / P) so no physical partition appears
 * twice in one upstream request; the parts are sent back to back on the client's connection (order kept)
 * and their answers merged back into the client's virtual view.
 */
export class VirtualProduce implements ApiHandler<Produce> {
  private readonly context: VirtualizationContext;
  private readonly markerValues: Buffer[] = [];
  private readonly spliceOptions: SpliceOptions;
  /** Recompressing gzip at the Java default level 6 costs ~7x more CPU than level 1 for ~4% smaller batches. */
  private readonly gzipSpliceOptions: SpliceOptions;

  constructor(context: VirtualizationContext) {
    this.context = context;
    this.spliceOptions = { maxOutputBytes: context.maxDecompressedBatchBytes };
    this.gzipSpliceOptions = { ...this.spliceOptions, compressionLevel: 1 };
  }

  wantsRequest(frame: Buffer, exchange: ExchangeInfo<Produce>): boolean {
    return produceNamesTopic(frame, exchange.apiVersion, this.isVirtual);
  }

  /** A virtualized topic, or an id not resolved yet: it may be one, so it never passes unread. */
  private readonly isVirtual = (nameOrId: string, byId: boolean): boolean => {
    const name = byId ? this.context.topics.nameOf(nameOrId) : nameOrId;
    if (name === undefined) return nameOrId !== ZERO_UUID;
    return this.context.rules.layoutOf(name) !== undefined;
  };

  async onRequest(
    request: ProduceRequest,
    context: RequestContext<Produce>,
  ): Promise<ProduceResponse | undefined> {
    const byId = hasField("ProduceRequest", "topicData.topicId", context.apiVersion);
    const lookup = this.lookUpUnknown(request, byId);
    if (lookup) await lookup;
    const layouts = request.topicData.map((topic) => this.layoutOf(topic, byId));
    const unresolved = request.topicData.map((topic) => isUnresolvedId(this.context, topic.topicId, byId));
    if (!layouts.some((layout) => layout !== undefined) && !unresolved.includes(true))
      return context.next(request);

    const expectResponse = request.acks !== 0;
    const subRequests: SubRequest[] = [];
    const refused = new Map<string, PartitionProduceResponse[]>();
    const subRequest = (group: number): SubRequest => {
      let found = subRequests[group];
      if (!found) subRequests[group] = found = { group, topics: new Map() };
      return found;
    };
    const topicIn = (part: SubRequest, topic: TopicProduceData, key: string): TopicProduceData => {
      let entry = part.topics.get(key);
      if (!entry) {
        entry = { name: topic.name, topicId: topic.topicId, partitionData: [] };
        part.topics.set(key, entry);
      }
      return entry;
    };

    request.topicData.forEach((topic, topicIndex) => {
      const key = byId ? topic.topicId : topic.name;
      const layout = layouts[topicIndex];
      const refuse = (errorCode: number, message: string) => {
        let list = refused.get(key);
        if (!list) refused.set(key, (list = []));
        for (const partition of topic.partitionData) list.push(refusal(partition.index, errorCode, message));
      };
      if (unresolved[topicIndex]) {
        refuse(ErrorCode.UNKNOWN_TOPIC_ID, `topic id ${topic.topicId} could not be resolved; retry`);
        return;
      }
      if (layout && !this.hasRuleCount(layout)) {
        refuse(
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          `topic ${layout.topic} does not have the ${layout.physicalPartitions} partitions its virtualization rule needs`,
        );
        return;
      }
      if (!layout) {
        topicIn(subRequest(0), topic, key).partitionData.push(...topic.partitionData);
        return;
      }
      for (const partition of topic.partitionData) {
        const outcome = this.mapPartition(layout, partition, request.transactionalId);
        if ("errorCode" in outcome) {
          let list = refused.get(key);
          if (!list) refused.set(key, (list = []));
          list.push(outcome);
          continue;
        }
        topicIn(subRequest(outcome.group), topic, key).partitionData.push(outcome.data);
        if (expectResponse) context.discardAfterReply(outcome.data.records!);
      }
    });
    if (expectResponse && context.requestFrame) context.discardAfterReply(context.requestFrame);

    const sent = subRequests
      .filter((part): part is SubRequest => part !== undefined)
      .map((part) =>
        context
          .next(
            {
              transactionalId: request.transactionalId,
              acks: request.acks,
              timeoutMs: request.timeoutMs,
              topicData: [...part.topics.values()],
            },
            { expectResponse },
          )
          .then((response) => ({ part, response: response as ProduceResponse | undefined })),
      );

    const answers = await Promise.all(sent);
    if (!expectResponse) return undefined;
    return this.merge(request, byId, layouts, answers, refused);
  }

  /**
   * Resolves ids the directory does not know, and the partition counts of virtualized topics it has not seen;
   * a failed lookup leaves them unknown, and they are refused. Undefined when everything is known already
   * (see `lookUpVirtualCounts`).
   */
  private lookUpUnknown(request: ProduceRequest, byId: boolean): Promise<void> | undefined {
    const topics = this.context.topics;
    const ids = byId
      ? request.topicData.map((topic) => topic.topicId).filter((id) => topics.nameOf(id) === undefined)
      : [];
    const countsOfNames = () =>
      lookUpVirtualCounts(
        this.context,
        request.topicData.map((topic) => (byId ? topics.nameOf(topic.topicId) : topic.name)),
      );
    if (ids.length === 0) return countsOfNames();
    return topics
      .resolveIds(ids)
      .catch(() => undefined)
      .then(() => countsOfNames());
  }

  /** The physical topic has exactly the partitions its rule maps onto (unknown counts as not). */
  private hasRuleCount(layout: VirtualLayout): boolean {
    return this.context.topics.get(layout.topic)?.partitions === layout.physicalPartitions;
  }

  private layoutOf(topic: TopicProduceData, byId: boolean): VirtualLayout | undefined {
    const name = byId ? this.context.topics.nameOf(topic.topicId) : topic.name;
    return name === undefined ? undefined : this.context.rules.layoutOf(name);
  }

  private mapPartition(
    layout: VirtualLayout,
    partition: PartitionProduceData,
    transactionalId: string | null,
  ): { group: number; data: PartitionProduceData } | PartitionProduceResponse {
    const v = partition.index;
    if (v < 0 || v >= layout.virtualPartitions) {
      return refusal(
        v,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${layout.topic} has ${layout.virtualPartitions} partitions`,
      );
    }
    const records = partition.records;
    if (!records || records.length <= BatchLayout.magic) {
      return refusal(v, ErrorCode.INVALID_RECORD, "empty produce data");
    }
    if (records[BatchLayout.magic] !== CURRENT_MAGIC) {
      return refusal(
        v,
        ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        `topic ${layout.topic} is virtualized: its records carry a header, so producers must write record batches v2 (Kafka 0.11+ clients)`,
      );
    }
    let view: RecordBatchView;
    try {
      view = RecordBatchView.parse(records, `${layout.topic}[${v}]`);
    } catch (error) {
      return refusal(v, ErrorCode.INVALID_RECORD, (error as Error).message);
    }
    if (!view.isValidCrc()) {
      // Re-encoding would sign corrupt records as good ones: refused as the broker refuses them.
      return refusal(v, ErrorCode.CORRUPT_MESSAGE, `${view.path} of ${layout.topic}[${v}]: crc mismatch`);
    }
    if (view.isTransactional || transactionalId !== null) {
      return refusal(
        v,
        ErrorCode.INVALID_RECORD,
        `transactions are not supported on virtualized topic ${layout.topic}; write it without a transactional.id`,
      );
    }
    const group = groupOf(layout, v);
    const producerId = view.producerId;
    if (producerId >= PRODUCER_ID_GROUP_STRIDE) {
      return refusal(
        v,
        ErrorCode.INVALID_RECORD,
        `producer id ${producerId} is too large for virtualized topic ${layout.topic}`,
      );
    }
    let rebuilt: RecordBatchView;
    try {
      rebuilt = new RecordBatchView(
        setHeaderOnEveryRecord(
          view,
          { key: this.context.markerHeader, value: this.markerValue(v) },
          view.compression === CompressionType.gzip ? this.gzipSpliceOptions : this.spliceOptions,
        ),
      );
      if (producerId >= 0n && group > 0) {
        rebuilt = withProducerState(
          rebuilt,
          {
            producerId: producerId + BigInt(group) * PRODUCER_ID_GROUP_STRIDE,
            producerEpoch: view.producerEpoch,
            baseSequence: view.baseSequence,
          },
          { inPlace: true },
        );
      }
    } catch (error) {
      if (error instanceof DecompressionLimitError) {
        // Producers split a batch refused as too large and retry its halves.
        return refusal(
          v,
          ErrorCode.MESSAGE_TOO_LARGE,
          `${error.message} (mapping.max_decompressed_batch_bytes)`,
        );
      }
      return refusal(v, ErrorCode.INVALID_RECORD, (error as Error).message);
    }
    this.context.counters?.batchReencoded();
    this.context.counters?.partitionsRemapped(1);
    return { group, data: { index: physicalOf(layout, v), records: rebuilt.buffer } };
  }

  private markerValue(v: number): Buffer {
    let value = this.markerValues[v];
    if (!value) this.markerValues[v] = value = Buffer.from(String(v));
    return value;
  }

  private merge(
    request: ProduceRequest,
    byId: boolean,
    layouts: (VirtualLayout | undefined)[],
    answers: { part: SubRequest; response: ProduceResponse | undefined }[],
    refused: Map<string, PartitionProduceResponse[]>,
  ): ProduceResponse {
    const layoutByKey = new Map<string, VirtualLayout | undefined>();
    const merged = new Map<string, TopicProduceResponse>();
    request.topicData.forEach((topic, index) => {
      const key = byId ? topic.topicId : topic.name;
      layoutByKey.set(key, layouts[index]);
      merged.set(key, {
        name: topic.name,
        topicId: topic.topicId,
        partitionResponses: [...(refused.get(key) ?? [])],
      });
    });
    let throttleTimeMs = 0;
    const nodeEndpoints = new Map<number, ProduceResponse["nodeEndpoints"][number]>();
    for (const { part, response } of answers) {
      if (!response) continue;
      throttleTimeMs = Math.max(throttleTimeMs, response.throttleTimeMs);
      for (const endpoint of response.nodeEndpoints ?? []) nodeEndpoints.set(endpoint.nodeId, endpoint);
      for (const topic of response.responses) {
        const key = byId ? topic.topicId : topic.name;
        const target = merged.get(key);
        if (!target) continue;
        const layout = layoutByKey.get(key);
        for (const partition of topic.partitionResponses) {
          if (layout) partition.index = virtualOf(layout, partition.index, part.group);
          target.partitionResponses.push(partition);
        }
      }
    }
    return { responses: [...merged.values()], throttleTimeMs, nodeEndpoints: [...nodeEndpoints.values()] };
  }
}
