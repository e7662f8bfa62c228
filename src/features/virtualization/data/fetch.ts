import type { ApiHandler, ExchangeInfo, RequestContext } from "../../../feature-api/feature.ts";
import { framePool } from "../../../net/frame-pool.ts";
import {
  type ApiKey,
  ErrorCode,
  hasField,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../protocol/api.ts";
import { fetchNamesTopic } from "../../../protocol/fetch-request-peek.ts";
import type { FetchPartition, FetchTopic } from "../../../protocol/generated/messages/fetch-request.ts";
import type {
  FetchableTopicResponse,
  PartitionData,
} from "../../../protocol/generated/messages/fetch-response.ts";
import type { VirtualizationContext } from "../context.ts";
import { physicalOf, type VirtualLayout } from "../mapping/rules.ts";
import { BatchClassifier } from "./batch-owners.ts";
import {
  type AheadRead,
  type AheadReads,
  aheadKey,
  READ_AHEAD,
  ReadAheadBudget,
} from "./fetch-read-ahead.ts";
import { finishCursor, splitPhysicalRecords, VirtualCursor } from "./fetch-virtual-records.ts";
import { LruCache } from "./lru-cache.ts";
import { isUnresolvedId, lookUpVirtualCounts } from "./topic-lookups.ts";

type Fetch = typeof ApiKey.Fetch;
type FetchRequest = RequestOf<Fetch>;
type FetchResponse = ResponseOf<Fetch>;

/** FetchRequest.isolationLevel of consumers that read only committed records. */
const READ_COMMITTED = 1;

/** Shortest time between two upstream reads of one long poll that found nothing for the client. */
const ROUND_INTERVAL_MS = 100;
/** How long an id the cluster did not know is answered UNKNOWN_TOPIC_ID without another lookup. */
const UNKNOWN_ID_RETRY_MS = 2_000;

interface PhysicalRead {
  readonly p: number;
  readonly cursors: VirtualCursor[];
  /** The requested partition with the smallest fetch offset: its epochs and offsets lead the read. */
  leader: FetchPartition;
  partitionMaxBytes: number;
  /** Epoch of the last batch read in earlier rounds; -1 before any. */
  lastFetchedEpoch: number;
  /** Where the latest round read from. */
  fetchOffset: bigint;
  rounds: number;
  data: PartitionData | undefined;
}

interface VirtualTopicRead {
  readonly name: string;
  readonly topicId: string;
  readonly topicKey: string;
  readonly layout: VirtualLayout;
  /**
   * The physical partition count disagrees with the rule, or is unknown: every v is answered
   * UNKNOWN_TOPIC_OR_PARTITION.
   */
  readonly refused: boolean;
  /** The client's partitions, in its order. */
  readonly requested: FetchPartition[];
  readonly reads: Map<number, PhysicalRead>;
  /** The upstream topic entry whose partitions are the physical reads. */
  readonly upstream: FetchTopic;
}

interface Plan {
  readonly byId: boolean;
  readonly upstream: FetchRequest;
  readonly virtualTopics: VirtualTopicRead[];
  /** The virtual topics by the key responses name them with: the topic id, or the name before topic ids. */
  readonly virtualByKey: Map<string, VirtualTopicRead>;
  /** Topics named by an id the proxy could not resolve: answered UNKNOWN_TOPIC_ID, never read. */
  readonly unknownTopics: FetchTopic[];
}

/** The key a topic response names its topic by, matching `Plan.virtualByKey`. */
function responseKey(plan: Plan, topic: { topic: string; topicId: string }): string {
  return plan.byId ? topic.topicId : topic.topic;
}

function partitionResponse(partitionIndex: number, errorCode: number): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    divergingEpoch: { epoch: -1, endOffset: -1n },
    currentLeader: { leaderId: -1, leaderEpoch: -1 },
    snapshotId: { endOffset: -1n, epoch: -1 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: null,
  };
}

const EMPTY_RECORDS = Buffer.alloc(0);

function emptyResponse(): FetchResponse {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: [], nodeEndpoints: [] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Fetch from virtualized topics. Each requested v is read from p = v mod P (once per p, from the smallest
 * requested offset) and answered with only its own batches, marker stripped unless kept; every run of batches
 * hidden from v becomes one batch without records for v so its position moves on. Rewritten fetches go
 * upstream as full fetches without a session and are answered with session id 0 ("no session"). When a read
 * finds nothing for the client, the proxy polls again until the client's maxWaitMs, as the broker would, so
 * consumers of an idle v do not spin on their neighbours' writes.
 *
 * What clients do with the hidden runs (checked in their sources and in test/integration/virtualization):
 * - Java consumer: moves to the last batch's lastOffset + 1, empty batches included (CompletedFetch).
 * - librdkafka: moves to every v2 batch's LastOffset + 1, empty or not (rd_kafka_msgset_reader_v2).
 * - KafkaJS: flattens batches into records and only resolves offsets of records it saw, so a response made of
 *   empty batches would be fetched again forever. A run at the end of a response is therefore written as one
 *   control batch holding a COMMIT marker (no producer id) at the run's last offset: all three skip control
 *   records and move past it. Runs followed by v's own batches stay plain empty batches.
 *
 * Limits: when several v of one request sit on the same p far apart, the read starts at the lowest offset and
 * the others wait until it reaches them; OFFSET_OUT_OF_RANGE of such a read goes only to the v at the lowest
 * offset, and a v whose offset lies beyond p's end gets no error, it waits for p to reach it. Incremental
 * fetches inside a session the broker holds that add a virtualized topic get FETCH_SESSION_ID_NOT_FOUND, so
 * the client restarts with a full fetch.
 */
export class VirtualFetch implements ApiHandler<Fetch> {
  private readonly context: VirtualizationContext;
  private readonly classifier: BatchClassifier;
  private readonly stripKey: Buffer | undefined;
  private readonly unknownIds = new LruCache<string, number>(10_000);
  private lastBadBatchLog = 0;
  private readonly readAhead: ReadAheadBudget | undefined;

  /**
   * With `context.readAheadBytes`, when a consumer is behind, the next physical reads are made while it handles
   * the response, holding at most this many bytes across connections (0: off). `cacheEntries` bounds the cache
   * of compressed batches' owners.
   */
  constructor(context: VirtualizationContext, options?: { cacheEntries?: number }) {
    this.context = context;
    this.readAhead = context.readAheadBytes ? new ReadAheadBudget(context.readAheadBytes) : undefined;
    this.classifier = new BatchClassifier({
      markerHeader: context.markerHeader,
      cacheEntries: options?.cacheEntries,
    });
    this.stripKey = context.keepMarker ? undefined : Buffer.from(context.markerHeader, "utf8");
  }

  wantsRequest(frame: Buffer, exchange: ExchangeInfo<Fetch>): boolean {
    if (this.context.rules.isEmpty) return false;
    return fetchNamesTopic(frame, exchange.apiVersion, this.needsLook);
  }

  /** A virtualized topic, or an id not resolved yet: it may be one, so it never passes unread. */
  private readonly needsLook = (nameOrId: string, byId: boolean): boolean => {
    const name = byId ? this.context.topics.nameOf(nameOrId) : nameOrId;
    if (name !== undefined) return this.context.rules.layoutOf(name) !== undefined;
    return nameOrId !== ZERO_UUID;
  };

  onRequest(request: FetchRequest, context: RequestContext<Fetch>): Promise<FetchResponse> {
    const byId = hasField("FetchRequest", "topics.topicId", context.apiVersion);
    const unknown = byId ? this.idsToResolve(request) : [];
    if (unknown.length > 0) return this.resolve(unknown).then(() => this.afterCounts(request, context, byId));
    return this.afterCounts(request, context, byId);
  }

  /** Handles the request once the partition counts of its virtualized topics are known (or failed to be). */
  private afterCounts(
    request: FetchRequest,
    context: RequestContext<Fetch>,
    byId: boolean,
  ): Promise<FetchResponse> {
    const topics = this.context.topics;
    const lookup = lookUpVirtualCounts(
      this.context,
      request.topics.map((topic) => (byId ? topics.nameOf(topic.topicId) : topic.topic)),
    );
    return lookup ? lookup.then(() => this.handle(context, request)) : this.handle(context, request);
  }

  private idsToResolve(request: FetchRequest): string[] {
    const topics = this.context.topics;
    const now = Date.now();
    const ids: string[] = [];
    const consider = (id: string) => {
      if (topics.nameOf(id) === undefined && this.worthResolving(id, now)) ids.push(id);
    };
    for (const topic of request.topics) consider(topic.topicId);
    for (const topic of request.forgottenTopicsData) consider(topic.topicId);
    return ids;
  }

  /** An id not looked up in the last UNKNOWN_ID_RETRY_MS (the zero id never is). */
  private worthResolving(id: string, now: number): boolean {
    if (id === ZERO_UUID) return false;
    const triedAt = this.unknownIds.get(id);
    return triedAt === undefined || now - triedAt >= UNKNOWN_ID_RETRY_MS;
  }

  /**
   * Looks ids up; those the cluster does not know are not looked up again for UNKNOWN_ID_RETRY_MS. When the
   * lookup fails, they stay unknown for this request (and are answered UNKNOWN_TOPIC_ID, which clients retry).
   */
  private async resolve(ids: string[]): Promise<void> {
    try {
      await this.context.topics.resolveIds(ids);
    } catch {
      return;
    }
    const now = Date.now();
    for (const id of ids) if (this.context.topics.nameOf(id) === undefined) this.unknownIds.set(id, now);
  }

  private handle(context: RequestContext<Fetch>, request: FetchRequest): Promise<FetchResponse> {
    const byId = hasField("FetchRequest", "topics.topicId", context.apiVersion);
    const virtualNamed = request.topics.some(
      (topic) =>
        this.layoutOf(topic, byId) !== undefined || isUnresolvedId(this.context, topic.topicId, byId),
    );
    if (!virtualNamed) {
      const forgotten = request.forgottenTopicsData;
      if (!forgotten.some((topic) => this.layoutOf(topic, byId) !== undefined)) return context.next(request);
      const kept = forgotten.filter((topic) => this.layoutOf(topic, byId) === undefined);
      return context.next({ ...request, forgottenTopicsData: kept });
    }
    if (request.sessionId !== 0 && request.sessionEpoch !== -1) {
      // An incremental fetch inside a session the broker holds: the proxy cannot see the session's other
      // partitions, so the client is told to start over with a full fetch. Topics the proxy cannot resolve
      // take the same way: whether they are virtualized is unknown, so they are never read as they are.
      return Promise.resolve({ ...emptyResponse(), errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND });
    }
    return this.fetch(context, request, this.plan(request, byId));
  }

  private layoutOf(topic: { topic: string; topicId: string }, byId: boolean): VirtualLayout | undefined {
    const name = byId ? this.context.topics.nameOf(topic.topicId) : topic.topic;
    return name === undefined ? undefined : this.context.rules.layoutOf(name);
  }

  private plan(request: FetchRequest, byId: boolean): Plan {
    const topics = this.context.topics;
    const upstreamTopics: FetchTopic[] = [];
    const virtualTopics: VirtualTopicRead[] = [];
    const unknownTopics: FetchTopic[] = [];
    for (const topic of request.topics) {
      const name = byId ? topics.nameOf(topic.topicId) : topic.topic;
      if (name === undefined) {
        unknownTopics.push(topic);
        continue;
      }
      const layout = this.context.rules.layoutOf(name);
      if (!layout) {
        upstreamTopics.push(topic);
        continue;
      }
      const reads = new Map<number, PhysicalRead>();
      const refused = topics.get(name)?.partitions !== layout.physicalPartitions;
      for (const partition of topic.partitions) {
        const v = partition.partition;
        if (refused || v < 0 || v >= layout.virtualPartitions) continue;
        const p = physicalOf(layout, v);
        const cursor = new VirtualCursor(v, partition.fetchOffset);
        const read = reads.get(p);
        if (!read) {
          reads.set(p, {
            p,
            cursors: [cursor],
            leader: partition,
            partitionMaxBytes: partition.partitionMaxBytes,
            lastFetchedEpoch: partition.lastFetchedEpoch,
            fetchOffset: partition.fetchOffset,
            rounds: 0,
            data: undefined,
          });
          continue;
        }
        if (read.cursors.some((other) => other.v === v)) continue; // named twice: one cursor answers both
        read.cursors.push(cursor);
        read.partitionMaxBytes = Math.max(read.partitionMaxBytes, partition.partitionMaxBytes);
        if (partition.fetchOffset < read.leader.fetchOffset) {
          read.leader = partition;
          read.lastFetchedEpoch = partition.lastFetchedEpoch;
          read.fetchOffset = partition.fetchOffset;
        }
      }
      const upstream: FetchTopic = { ...topic, partitions: [] };
      if (reads.size > 0) upstreamTopics.push(upstream);
      virtualTopics.push({
        name,
        topicId: topic.topicId,
        topicKey: topics.idOf(name) ?? name,
        layout,
        refused,
        requested: topic.partitions,
        reads,
        upstream,
      });
    }
    return {
      byId,
      upstream: {
        ...request,
        sessionId: 0,
        sessionEpoch: -1,
        forgottenTopicsData: [],
        topics: upstreamTopics,
      },
      virtualTopics,
      virtualByKey: new Map(virtualTopics.map((topic) => [byId ? topic.topicId : topic.name, topic])),
      unknownTopics,
    };
  }

  private async fetch(
    context: RequestContext<Fetch>,
    request: FetchRequest,
    plan: Plan,
  ): Promise<FetchResponse> {
    const deadline = Date.now() + Math.max(0, request.maxWaitMs);
    let ahead = this.readAhead ? await context.connection.state(READ_AHEAD).take() : undefined;
    if (ahead?.frame) context.releaseAfterReply(ahead.frame);
    let response = emptyResponse();
    let behind = false;
    let scannedBytes = 0;
    const received: Buffer[] = [];
    const keepFrame = (frame: Buffer) => {
      received.push(frame);
    };
    for (let round = 1; plan.upstream.topics.length > 0; round++) {
      const started = Date.now();
      for (const topic of plan.virtualTopics) {
        topic.upstream.partitions = [...topic.reads.values()].map((read) => this.physicalPartition(read));
      }
      const upstream: FetchRequest = { ...plan.upstream, maxWaitMs: Math.max(0, deadline - started) };
      response = await this.readRound(context, plan, upstream, ahead, keepFrame);
      ahead = undefined;
      const frame = received.pop();
      if (frame) scannedBytes += frame.length;
      if (response.errorCode !== ErrorCode.NONE) {
        if (frame) context.releaseAfterReply(frame);
        return { ...response, sessionId: 0, responses: [] };
      }
      const chunksBefore = this.chunkCount(plan);
      const outcome = this.distribute(context, request, plan, response, round);
      behind = outcome.behind;
      const now = Date.now();
      const done =
        outcome.answer || request.minBytes <= 0 || now >= deadline || scannedBytes >= request.maxBytes;
      if (frame) {
        // A round that gave the client nothing (only offsets to skip) is not kept until the reply: an idle v
        // behind busy neighbours holds one round's bytes at a time, not every round's.
        if (!done && this.chunkCount(plan) === chunksBefore) framePool.release(frame);
        else context.releaseAfterReply(frame);
      }
      if (done) break;
      if (outcome.behind) continue;
      const next = Math.min(deadline, started + ROUND_INTERVAL_MS);
      if (next > now) await sleep(next - now);
      if (Date.now() >= deadline) break;
    }
    const answer = this.respond(plan, response);
    for (const topic of plan.virtualTopics) {
      for (const read of topic.reads.values()) {
        for (const cursor of read.cursors) {
          for (const made of cursor.made) context.discardAfterReply(made);
          if (cursor.joined) context.releaseAfterReply(cursor.joined);
        }
      }
    }
    if (behind && this.readAhead) this.startReadAhead(context, plan, this.readAhead);
    return answer;
  }

  private chunkCount(plan: Plan): number {
    let count = 0;
    for (const topic of plan.virtualTopics) {
      for (const read of topic.reads.values())
        for (const cursor of read.cursors) count += cursor.chunks.length;
    }
    return count;
  }

  /**
   * One round's upstream read. Physical partitions read ahead at the same offsets are answered from the
   * read-ahead; the rest go upstream. The response frame is handed to `onResponseFrame`.
   */
  private async readRound(
    context: RequestContext<Fetch>,
    plan: Plan,
    upstream: FetchRequest,
    ahead: AheadReads | undefined,
    onResponseFrame: (frame: Buffer) => void,
  ): Promise<FetchResponse> {
    const covered: { topic: VirtualTopicRead; data: PartitionData }[] = [];
    if (ahead) {
      for (const topic of plan.virtualTopics) {
        for (const read of topic.reads.values()) {
          const hit = ahead.reads.get(aheadKey(topic.topicKey, read.p));
          if (hit && hit.fetchOffset === read.fetchOffset) covered.push({ topic, data: hit.data });
        }
      }
    }
    if (covered.length === 0) {
      return context.next(upstream, {
        timeoutMs: upstream.maxWaitMs + 30_000,
        onResponseFrame,
      });
    }
    const rest: FetchTopic[] = [];
    for (const topic of upstream.topics) {
      const virtual = plan.virtualTopics.find((candidate) => candidate.upstream === topic);
      const partitions = virtual
        ? topic.partitions.filter(
            (partition) =>
              !covered.some((c) => c.topic === virtual && c.data.partitionIndex === partition.partition),
          )
        : topic.partitions;
      if (partitions.length > 0) rest.push({ ...topic, partitions });
    }
    const response: FetchResponse =
      rest.length > 0
        ? await context.next(
            { ...upstream, maxWaitMs: 0, topics: rest },
            { timeoutMs: 30_000, onResponseFrame },
          )
        : emptyResponse();
    if (response.errorCode !== ErrorCode.NONE) return response;
    for (const { topic, data } of covered) {
      let entry = response.responses.find((r) => plan.virtualByKey.get(responseKey(plan, r)) === topic);
      if (!entry) {
        entry = { topic: topic.name, topicId: topic.topicId, partitions: [] };
        response.responses.push(entry);
      }
      entry.partitions.push(data);
    }
    return response;
  }

  /**
   * Reads on from where each cursor stopped, without waiting (maxWaitMs 0), on the client's own broker
   * connection, while the client handles this response. Kept only when every partition read cleanly.
   */
  private startReadAhead(context: RequestContext<Fetch>, plan: Plan, budget: ReadAheadBudget): void {
    const topics: FetchTopic[] = [];
    for (const topic of plan.virtualTopics) {
      if (topic.reads.size === 0) continue;
      topics.push({
        ...topic.upstream,
        partitions: [...topic.reads.values()].map((read) => this.physicalPartition(read)),
      });
    }
    if (topics.length === 0) return;
    const request: FetchRequest = { ...plan.upstream, maxWaitMs: 0, minBytes: 0, topics };
    const offsets = new Map<string, bigint>();
    for (const topic of plan.virtualTopics) {
      for (const read of topic.reads.values())
        offsets.set(aheadKey(topic.topicKey, read.p), read.fetchOffset);
    }
    let frame: Buffer | undefined;
    const pending = context
      .next(request, {
        timeoutMs: 30_000,
        onResponseFrame: (received) => {
          frame = received;
        },
      })
      .then((response): AheadReads | undefined => {
        if (response.errorCode !== ErrorCode.NONE) return undefined;
        const reads = new Map<string, AheadRead>();
        let bytes = 0;
        for (const topicResponse of response.responses) {
          const topicKey = plan.virtualByKey.get(responseKey(plan, topicResponse))?.topicKey;
          if (topicKey === undefined) continue;
          for (const data of topicResponse.partitions) {
            const length = data.records?.length ?? 0;
            if (data.errorCode !== ErrorCode.NONE || data.divergingEpoch.epoch >= 0 || length === 0) continue;
            const key = aheadKey(topicKey, data.partitionIndex);
            const fetchOffset = offsets.get(key);
            if (fetchOffset === undefined) continue;
            reads.set(key, { fetchOffset, data, bytes: length });
            bytes += length;
          }
        }
        if (reads.size === 0 || !budget.tryHold(bytes)) return undefined;
        return { reads, frame };
      });
    context.connection.state(READ_AHEAD).put(pending, budget);
  }

  private physicalPartition(read: PhysicalRead): FetchPartition {
    let fetchOffset = read.cursors[0]!.position;
    for (const cursor of read.cursors) if (cursor.position < fetchOffset) fetchOffset = cursor.position;
    read.fetchOffset = fetchOffset;
    return {
      ...read.leader,
      partition: read.p,
      fetchOffset,
      lastFetchedEpoch: read.lastFetchedEpoch,
      partitionMaxBytes: read.partitionMaxBytes,
    };
  }

  /**
   * Splits each physical partition's records among its cursors. `answer` when the client has something to
   * see (records of a requested v or of a plain topic, an error, a divergence, a preferred replica) or when the
   * broker returned nothing complete (it already waited); `behind` when a read stopped short of the end of p,
   * so the next round can follow at once instead of pacing.
   */
  private distribute(
    context: RequestContext<Fetch>,
    request: FetchRequest,
    plan: Plan,
    response: FetchResponse,
    round: number,
  ): { answer: boolean; behind: boolean } {
    const readCommitted = request.isolationLevel === READ_COMMITTED;
    const tracksEpochs = hasField("FetchRequest", "topics.partitions.lastFetchedEpoch", context.apiVersion);
    let found = false;
    let readAnything = false;
    let behind = false;
    for (const topicResponse of response.responses) {
      const topic = plan.virtualByKey.get(responseKey(plan, topicResponse));
      if (!topic) {
        for (const partition of topicResponse.partitions) {
          if (partition.errorCode !== ErrorCode.NONE || (partition.records?.length ?? 0) > 0) found = true;
        }
        continue;
      }
      for (const partition of topicResponse.partitions) {
        const read = topic.reads.get(partition.partitionIndex);
        if (!read) continue;
        read.data = partition;
        read.rounds = round;
        if (
          partition.errorCode !== ErrorCode.NONE ||
          partition.divergingEpoch.epoch >= 0 ||
          partition.preferredReadReplica >= 0
        ) {
          found = true;
          continue;
        }
        const records = partition.records;
        if (!records || records.length === 0) continue;
        const split = splitPhysicalRecords(records, read.cursors, {
          topicKey: topic.topicKey,
          physicalPartition: read.p,
          layout: topic.layout,
          classifier: this.classifier,
          stripKey: this.stripKey,
          onBadBatch: (error) => this.logBadBatch(context, topic.name, read.p, error),
          counters: this.context.counters,
        });
        if (split.entries > 0) readAnything = true;
        if (split.lastLeaderEpoch !== undefined && tracksEpochs)
          read.lastFetchedEpoch = split.lastLeaderEpoch;
        const end = readCommitted ? partition.lastStableOffset : partition.highWatermark;
        for (const cursor of read.cursors) {
          if (cursor.ownBytes > 0 || cursor.corrupt) found = true;
          if (split.entries > 0 && cursor.position < end) behind = true;
        }
      }
    }
    return { answer: found || !readAnything, behind };
  }

  private respond(plan: Plan, response: FetchResponse): FetchResponse {
    const responses: FetchableTopicResponse[] = [];
    const answered = new Set<VirtualTopicRead>();
    for (const topicResponse of response.responses) {
      const topic = plan.virtualByKey.get(responseKey(plan, topicResponse));
      if (!topic) {
        responses.push(topicResponse);
        continue;
      }
      if (answered.has(topic)) continue;
      answered.add(topic);
      responses.push({ ...topicResponse, partitions: this.virtualPartitions(topic) });
    }
    for (const topic of plan.virtualTopics) {
      if (answered.has(topic)) continue;
      responses.push({
        topic: topic.name,
        topicId: topic.topicId,
        partitions: this.virtualPartitions(topic),
      });
    }
    for (const topic of plan.unknownTopics) {
      responses.push({
        topic: topic.topic,
        topicId: topic.topicId,
        partitions: topic.partitions.map((partition) =>
          partitionResponse(partition.partition, ErrorCode.UNKNOWN_TOPIC_ID),
        ),
      });
    }
    return {
      throttleTimeMs: response.throttleTimeMs,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses,
      nodeEndpoints: response.nodeEndpoints,
    };
  }

  private virtualPartitions(topic: VirtualTopicRead): PartitionData[] {
    const out: PartitionData[] = [];
    for (const partition of topic.requested) {
      const v = partition.partition;
      if (topic.refused || v < 0 || v >= topic.layout.virtualPartitions) {
        out.push(partitionResponse(v, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        continue;
      }
      const read = topic.reads.get(physicalOf(topic.layout, v))!;
      const data = read.data;
      if (!data) continue;
      const cursor = read.cursors.find((candidate) => candidate.v === v)!;
      out.push(this.virtualPartition(v, partition, read, data, cursor));
    }
    return out;
  }

  private virtualPartition(
    v: number,
    requested: FetchPartition,
    read: PhysicalRead,
    data: PartitionData,
    cursor: VirtualCursor,
  ): PartitionData {
    if (data.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && requested.fetchOffset > read.leader.fetchOffset) {
      // The read started at a lower v's offset (e.g. one that retention deleted): that v is out of range, this
      // one is not; it retries from where it is once the other has reset.
      return { ...data, partitionIndex: v, errorCode: ErrorCode.NONE, records: EMPTY_RECORDS };
    }
    if (data.errorCode !== ErrorCode.NONE) return { ...data, partitionIndex: v };
    if (data.divergingEpoch.epoch >= 0) {
      // Only the partition whose offset and epoch led the read learns of the divergence; it was measured
      // against its own position. The others retry from where they are.
      const led =
        read.rounds === 1 &&
        requested.fetchOffset === read.fetchOffset &&
        requested.lastFetchedEpoch === read.leader.lastFetchedEpoch;
      return {
        ...data,
        partitionIndex: v,
        divergingEpoch: led ? data.divergingEpoch : { epoch: -1, endOffset: -1n },
        records: EMPTY_RECORDS,
      };
    }
    if (cursor.corrupt && cursor.chunks.length === 0 && !cursor.run) {
      return { ...partitionResponse(v, ErrorCode.CORRUPT_MESSAGE), highWatermark: data.highWatermark };
    }
    const records =
      cursor.chunks.length > 0 || cursor.run ? finishCursor(cursor, this.context.counters) : EMPTY_RECORDS;
    this.context.counters?.partitionsRemapped(1);
    return { ...data, partitionIndex: v, records };
  }

  private logBadBatch(exchange: ExchangeInfo<Fetch>, topic: string, p: number, error: Error): void {
    const now = Date.now();
    if (now - this.lastBadBatchLog < 60_000) return;
    this.lastBadBatchLog = now;
    exchange.log.warn(
      { topic, partition: p, err: error.message },
      "a fetched batch could not be read or failed its CRC; virtual partitions stop before it (CORRUPT_MESSAGE)",
    );
  }
}
