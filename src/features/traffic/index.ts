import type { ClientConnectionInfo, ExchangeInfo, Feature } from "../../feature-api/feature.ts";
import { ConnectionStateKey } from "../../feature-api/feature.ts";
import type { FeatureServices } from "../../feature-api/services.ts";
import { ApiKey, ErrorCode, type ResponseOf } from "../../protocol/api.ts";
import { walkProduce } from "../../protocol/produce-request-peek.ts";
import { type FetchVisitor, walkFetchResponse } from "./fetch-response-walk.ts";
import { walkProduceResponse } from "./produce-response-walk.ts";
import { countBatches } from "./record-batches.ts";
import { TrafficCounts, type TrafficEntry } from "./traffic-counts.ts";

/** A connection's client entry, kept while its client id and principal stay the same. */
interface ClientSlot {
  entry: TrafficEntry | undefined;
  principal: string | undefined;
}

const CLIENT_SLOT = new ConnectionStateKey<ClientSlot>("traffic-client", () => ({
  entry: undefined,
  principal: undefined,
}));

/**
 * Counts produce and fetch traffic as clients see it (this feature is nearest the client: virtual topics and
 * partitions): bytes and records per topic and upstream cluster, and per client id and principal. Produce is
 * read from the request frame, Fetch from the response the client gets; both from batch headers only, and
 * neither is decoded nor held back. Also counts the partition error codes of Fetch and Produce responses, and
 * serves `GET /api/traffic`, the rates of the last minute.
 */
export function createTraffic(services: FeatureServices): Feature | undefined {
  const { config, topology, metrics, admin, onReload } = services;
  const log = services.log.child({ component: "traffic" });
  if (!config.metrics.traffic) {
    onReload((reloaded) => {
      if (reloaded.metrics.traffic) log.warn("enabling metrics.traffic needs a restart");
    });
    return undefined;
  }
  const counts = new TrafficCounts(
    metrics.registry,
    config.metrics.maxTopicLabels,
    config.metrics.maxClientLabels,
  );
  let enabled = true;
  onReload((reloaded) => {
    enabled = reloaded.metrics.traffic;
    counts.setLimits(reloaded.metrics.maxTopicLabels, reloaded.metrics.maxClientLabels);
  });
  admin.get("/api/traffic", () => ({ json: counts.rates(currentSecond()) }));

  const topicEntry = (nameOrId: string, byId: boolean): TrafficEntry => {
    const name = byId ? (topology.topics.nameOf(nameOrId) ?? nameOrId) : nameOrId;
    return counts.topic(name, topology.routing.clusterOfTopic(name));
  };

  const clientEntry = (connection: ClientConnectionInfo): TrafficEntry => {
    const slot = connection.state(CLIENT_SLOT);
    if (!slot.entry || slot.principal !== connection.principal) {
      slot.principal = connection.principal;
      slot.entry = counts.client(connection.clientId ?? "", connection.principal ?? "");
    }
    return slot.entry;
  };

  // One walk at a time (the event loop runs one): the walks' state lives here, not in per-request closures.
  let second = 0;
  let topic: TrafficEntry | undefined;
  let client: TrafficEntry | undefined;
  let bytes = 0;
  let records = 0;

  const visitProducedTopic = (nameOrId: string, byId: boolean): boolean => {
    topic = topicEntry(nameOrId, byId);
    return false;
  };
  const visitProducedRecords = (batches: Buffer): void => {
    const batch = countBatches(batches, 0, batches.length);
    if (batch.records === 0 && batch.bytes === 0) return;
    topic!.produced(second, batch.bytes, batch.records);
    bytes += batch.bytes;
    records += batch.records;
  };

  const fetchVisitor: FetchVisitor = {
    topic(nameOrId, byId) {
      topic = topicEntry(nameOrId, byId);
    },
    partition(errorCode, frame, start, end) {
      if (errorCode !== ErrorCode.NONE) metrics.countError(ApiKey.Fetch, errorCode);
      if (end === start) return;
      const batch = countBatches(frame, start, end);
      if (batch.records === 0 && batch.bytes === 0) return;
      topic!.fetched(second, batch.bytes, batch.records);
      bytes += batch.bytes;
      records += batch.records;
    },
    error(errorCode) {
      if (errorCode !== ErrorCode.NONE) metrics.countError(ApiKey.Fetch, errorCode);
    },
  };

  // A Produce response's partition errors, counted once its walk has read every partition: a frame the walk
  // cannot read counts none.
  const producedErrors: number[] = [];
  let producedErrorCount = 0;
  const visitProducedError = (errorCode: number): void => {
    if (errorCode !== ErrorCode.NONE) producedErrors[producedErrorCount++] = errorCode;
  };

  const begin = (exchange: ExchangeInfo): void => {
    second = currentSecond();
    client = clientEntry(exchange.connection);
    bytes = 0;
    records = 0;
  };

  return {
    name: "traffic",
    handlers: {
      [ApiKey.Produce]: {
        observeRequestFrame(frame, exchange) {
          if (!enabled || exchange.connection.internal) return;
          begin(exchange);
          try {
            walkProduce(frame, exchange.apiVersion, visitProducedTopic, visitProducedRecords);
          } finally {
            if (bytes > 0 || records > 0) client!.produced(second, bytes, records);
            topic = client = undefined;
          }
        },
        observeResponseFrame(frame, exchange) {
          if (!enabled || exchange.connection.internal) return;
          try {
            walkProduceResponse(frame, exchange.apiVersion, visitProducedError);
            for (let i = 0; i < producedErrorCount; i++)
              metrics.countError(ApiKey.Produce, producedErrors[i]!);
          } catch (error) {
            log.debug({ err: (error as Error).message }, "a Produce response could not be counted");
          } finally {
            producedErrorCount = 0;
          }
        },
        observeResponse(response, exchange) {
          if (!enabled || exchange.connection.internal) return;
          for (const topicResponse of response.responses)
            for (const partition of topicResponse.partitionResponses)
              metrics.countError(ApiKey.Produce, partition.errorCode);
        },
      },
      [ApiKey.Fetch]: {
        observeResponseFrame(frame, exchange) {
          if (!enabled || exchange.connection.internal) return;
          begin(exchange);
          try {
            walkFetchResponse(frame, exchange.apiVersion, fetchVisitor);
          } catch (error) {
            log.debug({ err: (error as Error).message }, "a Fetch response could not be counted");
          } finally {
            if (bytes > 0 || records > 0) client!.fetched(second, bytes, records);
            topic = client = undefined;
          }
        },
        observeResponse(response, exchange) {
          if (!enabled || exchange.connection.internal) return;
          begin(exchange);
          try {
            countDecodedFetch(response);
          } finally {
            if (bytes > 0 || records > 0) client!.fetched(second, bytes, records);
            topic = client = undefined;
          }
        },
      },
    },
  };

  function countDecodedFetch(response: ResponseOf<typeof ApiKey.Fetch>): void {
    for (const topicResponse of response.responses) {
      const byId = topicResponse.topic === "" && topicResponse.topicId !== undefined;
      fetchVisitor.topic(byId ? topicResponse.topicId : topicResponse.topic, byId);
      for (const partition of topicResponse.partitions) {
        const batches = partition.records;
        fetchVisitor.partition(partition.errorCode, batches ?? EMPTY, 0, batches?.length ?? 0);
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);

function currentSecond(): number {
  return Math.floor(Date.now() / 1000);
}
