import type {
  ApiHandler,
  ApiHandlers,
  ExchangeInfo,
  Feature,
  RequestContext,
} from "../../feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { CoordinatorType } from "../../protocol/coordinator-type.ts";
import { fetchNamesTopic } from "../../protocol/fetch-request-peek.ts";
import { produceNamesTopic } from "../../protocol/produce-request-peek.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import { type BrokerVersions, narrowApiVersions } from "../../topology/api-versions.ts";
import type { Topology } from "../../topology/topology.ts";
import { describeTopicPartitions } from "./describe-topic-partitions.ts";
import {
  type Destination,
  ENTRY_ROUTES,
  type EntryRoute,
  LEADER_REQUESTS,
  type RouteLookups,
} from "./entry-routes.ts";
import { GroupOffsetRouting } from "./group-offsets.ts";
import { mergeMetadata, metadataRequests } from "./metadata.ts";
import { ProducerIdMapping } from "./producer-ids.ts";
import { SingleClusterRefusals } from "./single-cluster-refusals.ts";

/** Where the error code sits in an ApiVersions response frame: after the length and the correlation id. */
const API_VERSIONS_ERROR_OFFSET = 8;

type AnyRequest = Record<string, unknown>;
type AnyResponse = Record<string, unknown>;

/**
 * Several upstream clusters behind one virtual cluster (docs/clusters.md). Requests that concern one cluster go
 * there: a node's requests to its own cluster, group and transaction coordinators to their home cluster. Requests
 * that span clusters are split by entry, sent to each cluster and merged: Metadata, admin requests naming topics,
 * config resources, a group's offsets. ApiVersions offers, for the APIs sent on to other clusters, only versions
 * that every cluster speaks; producer ids are kept distinct per cluster; what cannot span clusters is refused.
 */
export class ClusterRoutingFeature implements Feature {
  readonly name = "routing";
  readonly handlers: ApiHandlers;
  private readonly topology: Topology;
  private readonly lookups: RouteLookups;
  private readonly producerIds: ProducerIdMapping;
  private readonly idCollisions = new IdCollisions();
  private readonly foreignTests = new Map<string, (nameOrId: string, byId: boolean) => boolean>();
  /** The APIs this feature may send on to another cluster at the client's version. */
  private readonly crossClusterApis: ReadonlySet<number>;

  constructor(topology: Topology) {
    this.topology = topology;
    const routing = topology.routing;
    this.lookups = {
      clusterOfTopic: (topic) => routing.clusterOfTopic(topic),
      clusterOfTopicId: (topicId) => {
        const name = topology.topics.nameOf(topicId);
        return name === undefined ? undefined : routing.clusterOfTopic(name);
      },
      homeOfGroup: (group) => routing.homeOfGroup(group),
      upstreamOf: (nodeId) => topology.nodeIds.upstreamOf(nodeId),
    };
    this.producerIds = new ProducerIdMapping(topology);
    const groups = new GroupOffsetRouting(topology);
    const refusals = new SingleClusterRefusals(topology);
    const typed: ApiHandlers = {
      [ApiKey.InitProducerId]: { onRequest: (r, c) => this.producerIds.initProducerId(r, c) },
      [ApiKey.AddPartitionsToTxn]: { onRequest: (r, c) => refusals.addPartitionsToTxn(r, c) },
      [ApiKey.AddOffsetsToTxn]: { onRequest: (r, c) => refusals.addOffsetsToTxn(r, c) },
      [ApiKey.TxnOffsetCommit]: { onRequest: (r, c) => refusals.txnOffsetCommit(r, c) },
      [ApiKey.ConsumerGroupHeartbeat]: { onRequest: (r, c) => refusals.consumerGroupHeartbeat(r, c) },
      [ApiKey.DescribeTopicPartitions]: { onRequest: (r, c) => describeTopicPartitions(r, c, topology) },
      [ApiKey.OffsetCommit]: { onRequest: (r, c) => groups.offsetCommit(r, c) },
      [ApiKey.OffsetFetch]: { onRequest: (r, c) => groups.offsetFetch(r, c) },
      [ApiKey.OffsetDelete]: { onRequest: (r, c) => groups.offsetDelete(r, c) },
      [ApiKey.DeleteGroups]: { onRequest: (r, c) => groups.deleteGroups(r, c) },
      [ApiKey.ListGroups]: {
        onResponse: (response, exchange) => groups.listGroups(response, exchange.nodeId),
      },
      [ApiKey.Metadata]: { onRequest: (r, c) => this.metadata(r, c) },
      [ApiKey.DescribeCluster]: { onRequest: (r, c) => this.describeCluster(r, c) },
      [ApiKey.ApiVersions]: {
        wantsResponse: (_exchange, frame) =>
          !frame ||
          (frame.length >= API_VERSIONS_ERROR_OFFSET + 2 &&
            frame.readInt16BE(API_VERSIONS_ERROR_OFFSET) === ErrorCode.NONE),
        onResponse: (response, exchange) => this.apiVersions(response, exchange.nodeId),
      },
      [ApiKey.FindCoordinator]: { onRequest: (r, c) => this.findCoordinator(r, c) },
    };
    const handlers = typed as Record<number, ApiHandler<ApiKey>>;
    for (const [apiKey, routes] of ENTRY_ROUTES) {
      handlers[apiKey] = {
        wantsRequest: this.framePeek(apiKey),
        onRequest: (request, context) => this.split(routes, request as unknown as AnyRequest, context),
      };
    }
    this.crossClusterApis = new Set([
      ...[...ENTRY_ROUTES.keys()].filter((apiKey) => !LEADER_REQUESTS.has(apiKey)),
      ApiKey.Metadata,
      ApiKey.DescribeCluster,
      ApiKey.DescribeTopicPartitions,
      ApiKey.FindCoordinator,
      ApiKey.InitProducerId,
      ApiKey.OffsetCommit,
      ApiKey.OffsetFetch,
      ApiKey.OffsetDelete,
      ApiKey.DeleteGroups,
    ]);
    handlers[ApiKey.DescribeProducers]!.onResponse = (response, exchange) =>
      this.producerIds.describeProducers(
        response as ResponseOf<typeof ApiKey.DescribeProducers>,
        this.topology.clusterOfNode(exchange.nodeId),
      );
    handlers[ApiKey.Produce]!.patchRequestFrame = (frame, exchange) =>
      this.producerIds.patchProduceFrame(frame, exchange as ExchangeInfo<typeof ApiKey.Produce>);
    this.handlers = handlers as ApiHandlers;
  }

  /** Produce and Fetch are taken only when they name a topic of another cluster, read without decoding. */
  private framePeek(apiKey: number): ApiHandler<ApiKey>["wantsRequest"] {
    const names =
      apiKey === ApiKey.Produce ? produceNamesTopic : apiKey === ApiKey.Fetch ? fetchNamesTopic : undefined;
    if (!names) return undefined;
    return (frame, exchange) =>
      names(frame, exchange.apiVersion, this.foreignTo(this.topology.clusterOfNode(exchange.nodeId)));
  }

  /** Whether a topic (by name, or by an id the proxy has seen) lives on another cluster than `cluster`; one per cluster. */
  private foreignTo(cluster: string): (nameOrId: string, byId: boolean) => boolean {
    let foreign = this.foreignTests.get(cluster);
    if (!foreign) {
      foreign = (nameOrId, byId) => {
        const home = byId
          ? this.lookups.clusterOfTopicId(nameOrId)
          : this.topology.routing.clusterOfTopic(nameOrId);
        return home !== undefined && home !== cluster;
      };
      this.foreignTests.set(cluster, foreign);
    }
    return foreign;
  }

  /**
   * Sends each cluster the entries that belong to it and merges the results into one response, in the order the
   * clusters answered. Entries of the request's own cluster stay on the client's connection.
   */
  private async split(
    routes: readonly EntryRoute[],
    request: AnyRequest,
    context: RequestContext<ApiKey>,
  ): Promise<ResponseOf<ApiKey> | undefined> {
    const route = routes.find((candidate) => Array.isArray(request[candidate.requestList]));
    if (!route) return context.next(request as unknown as RequestOf<ApiKey>);
    const own = this.topology.clusterOfNode(context.nodeId);
    if (context.apiKey === ApiKey.Produce) {
      this.producerIds.remapProduce(request as unknown as RequestOf<typeof ApiKey.Produce>, own);
    }
    const parts = new Map<string, { destination: Destination; entries: unknown[] }>();
    for (const entry of request[route.requestList] as unknown[]) {
      const destination = route.destinationOf(entry, this.lookups) ?? { cluster: own };
      route.toUpstream?.(entry, this.lookups);
      const key = `${destination.cluster}/${destination.nodeId ?? ""}`;
      const part = parts.get(key);
      if (part) part.entries.push(entry);
      else parts.set(key, { destination, entries: [entry] });
    }
    const ownOnly =
      parts.size === 1 && [...parts.values()][0]!.destination.cluster === own && !route.fromUpstream;
    if (parts.size === 0 || ownOnly) return context.next(request as unknown as RequestOf<ApiKey>);

    const leaderBound = LEADER_REQUESTS.has(context.apiKey);
    const unanswered = context.apiKey === ApiKey.Produce && request.acks === 0;
    const answers = await Promise.all(
      [...parts.values()].map(async ({ destination, entries }) => {
        const part = { ...request, [route.requestList]: entries } as unknown as RequestOf<ApiKey>;
        const response = await this.sendPart(part, destination, own, leaderBound, context);
        if (response && route.fromUpstream) {
          for (const result of (response as unknown as AnyResponse)[route.responseList] as unknown[]) {
            route.fromUpstream(result, destination);
          }
        }
        return response;
      }),
    );
    return unanswered ? undefined : mergeLists(answers, route.responseList);
  }

  private async sendPart(
    part: RequestOf<ApiKey>,
    destination: Destination,
    own: string,
    leaderBound: boolean,
    context: RequestContext<ApiKey>,
  ): Promise<ResponseOf<ApiKey> | undefined> {
    if (
      destination.cluster === own &&
      (destination.nodeId === undefined || destination.nodeId === context.nodeId)
    ) {
      return context.next(part);
    }
    if (leaderBound) {
      return context.apiKey === ApiKey.Produce && (part as unknown as AnyRequest).acks === 0
        ? undefined
        : this.refuse(part, context, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    }
    const nodeId = destination.nodeId ?? this.topology.anyNodeOf(destination.cluster);
    if (nodeId === undefined) return this.refuse(part, context, ErrorCode.NOT_CONTROLLER);
    try {
      return await context.send(context.apiKey, context.apiVersion, part, { nodeId });
    } catch (error) {
      context.log.warn(
        { cluster: destination.cluster, api: context.apiKey, err: (error as Error).message },
        "request to another cluster failed; its entries are answered with a retriable error",
      );
      return this.refuse(part, context, ErrorCode.NOT_CONTROLLER);
    }
  }

  /** Answers entries without a broker: the error on each entry, none at the top where entries carry their own. */
  private refuse(
    part: RequestOf<ApiKey>,
    context: RequestContext<ApiKey>,
    errorCode: number,
  ): ResponseOf<ApiKey> {
    const response = refusalResponse(
      context.apiKey,
      context.apiVersion,
      part,
      errorCode,
    ) as unknown as AnyResponse;
    if (typeof response.errorCode === "number") response.errorCode = ErrorCode.NONE;
    return response as unknown as ResponseOf<ApiKey>;
  }

  private async metadata(
    request: RequestOf<typeof ApiKey.Metadata>,
    context: RequestContext<typeof ApiKey.Metadata>,
  ): Promise<ResponseOf<typeof ApiKey.Metadata>> {
    const own = this.topology.clusterOfNode(context.nodeId);
    const requests = metadataRequests(request, this.topology.routing, this.lookups);
    const answers = await Promise.all(
      [...requests].map(async ([cluster, clusterRequest]) => {
        try {
          const nodeId = cluster === own ? undefined : this.topology.anyNodeOf(cluster);
          if (cluster !== own && nodeId === undefined)
            throw new Error(`no broker of cluster ${cluster} is known`);
          const response =
            nodeId === undefined
              ? await context.next(clusterRequest)
              : await context.send(ApiKey.Metadata, context.apiVersion, clusterRequest, { nodeId });
          return { cluster, request: clusterRequest, response };
        } catch (error) {
          context.log.warn(
            { cluster, err: (error as Error).message },
            "metadata of a cluster is unavailable",
          );
          return { cluster, request: clusterRequest, response: undefined };
        }
      }),
    );
    return mergeMetadata(answers, context.apiVersion, this.topology.routing, (topicId, kept, refused) =>
      this.idCollisions.report(topicId, kept, refused, context.log),
    );
  }

  /** Every cluster's brokers (already virtual nodes), the lowest one as the controller. */
  private async describeCluster(
    request: RequestOf<typeof ApiKey.DescribeCluster>,
    context: RequestContext<typeof ApiKey.DescribeCluster>,
  ): Promise<ResponseOf<typeof ApiKey.DescribeCluster>> {
    const own = this.topology.clusterOfNode(context.nodeId);
    const others = this.topology.clusterNames.filter((cluster) => cluster !== own);
    const [response, ...answers] = await Promise.all([
      context.next(request),
      ...others.map(async (cluster) => {
        const nodeId = this.topology.anyNodeOf(cluster);
        if (nodeId === undefined) return undefined;
        try {
          return await context.send(ApiKey.DescribeCluster, context.apiVersion, request, { nodeId });
        } catch (error) {
          context.log.warn(
            { cluster, err: (error as Error).message },
            "a cluster could not describe its brokers",
          );
          return undefined;
        }
      }),
    ]);
    if (response.errorCode !== ErrorCode.NONE) return response;
    for (const answer of answers) {
      if (!answer || answer.errorCode !== ErrorCode.NONE) continue;
      response.brokers.push(...answer.brokers);
      response.throttleTimeMs = Math.max(response.throttleTimeMs, answer.throttleTimeMs);
    }
    response.brokers.sort((a, b) => a.brokerId - b.brokerId);
    response.controllerId = response.brokers[0]?.brokerId ?? response.controllerId;
    return response;
  }

  /**
   * The connection's broker's versions, where the proxy may send a request on to another cluster at the client's
   * version (the handlers of this feature that do), narrowed to what every other cluster was last seen to speak
   * (the topology asks each cluster at start and refreshes the answer here). Every other API reaches the
   * connection's own cluster only, so it keeps that cluster's versions: a consumer-protocol group on a Kafka 4
   * cluster keeps ConsumerGroupHeartbeat beside a cluster that lacks it. A response carrying an error (a version
   * the broker does not know, answered at version 0) is left alone.
   */
  private apiVersions(response: ResponseOf<typeof ApiKey.ApiVersions>, nodeId: number | undefined): boolean {
    const own = this.topology.clusterOfNode(nodeId);
    const others: BrokerVersions[] = [];
    for (const cluster of this.topology.clusterNames) {
      if (cluster === own) continue;
      void this.topology.versionsOfCluster(cluster);
      const known = this.topology.knownVersionsOf(cluster);
      if (known) others.push(known);
    }
    if (response.errorCode !== ErrorCode.NONE || others.length === 0) return false;
    narrowApiVersions(response, (apiKey) => {
      if (!this.crossClusterApis.has(apiKey)) return undefined;
      let min = 0;
      let max = Number.POSITIVE_INFINITY;
      for (const table of others) {
        const theirs = table.get(apiKey);
        if (!theirs) return null;
        min = Math.max(min, theirs.min);
        max = Math.min(max, theirs.max);
      }
      return { min, max };
    });
    return true;
  }

  /** Each key goes to its home cluster: groups by the group rules, transactional ids by theirs. */
  private async findCoordinator(
    request: RequestOf<typeof ApiKey.FindCoordinator>,
    context: RequestContext<typeof ApiKey.FindCoordinator>,
  ): Promise<ResponseOf<typeof ApiKey.FindCoordinator>> {
    const routing = this.topology.routing;
    const homeOf = (key: string) =>
      request.keyType === CoordinatorType.transaction
        ? routing.homeOfTransactionalId(key)
        : routing.homeOfGroup(key);
    const own = this.topology.clusterOfNode(context.nodeId);
    const ask = (cluster: string, part: RequestOf<typeof ApiKey.FindCoordinator>) => {
      if (cluster === own) return context.next(part);
      const nodeId = this.topology.anyNodeOf(cluster);
      if (nodeId === undefined) {
        return Promise.resolve(
          refusalResponse(
            ApiKey.FindCoordinator,
            context.apiVersion,
            part,
            ErrorCode.COORDINATOR_NOT_AVAILABLE,
          ),
        );
      }
      return context.send(ApiKey.FindCoordinator, context.apiVersion, part, { nodeId });
    };
    if (request.coordinatorKeys.length === 0) return ask(homeOf(request.key), request);
    const byHome = new Map<string, string[]>();
    for (const key of request.coordinatorKeys) {
      const home = homeOf(key);
      const keys = byHome.get(home);
      if (keys) keys.push(key);
      else byHome.set(home, [key]);
    }
    const answers = await Promise.all(
      [...byHome].map(([cluster, keys]) => ask(cluster, { ...request, coordinatorKeys: keys })),
    );
    return mergeLists(answers, "coordinators") as ResponseOf<typeof ApiKey.FindCoordinator>;
  }
}

/** Topic id collisions between clusters, each logged once. */
class IdCollisions {
  private readonly reported = new Set<string>();

  report(topicId: string, kept: string, refused: string, log: RequestContext["log"]): void {
    if (this.reported.has(topicId) || this.reported.size >= 10_000) return;
    this.reported.add(topicId);
    log.error(
      { topicId, kept, refused },
      "two clusters hold topics with the same id; the second is not served (recreate one of them)",
    );
  }
}

/** One response from several: the first one's fields, every answer's entries of `list`, the longest throttle. */
function mergeLists<R>(answers: (R | undefined)[], list: string): R | undefined {
  let merged: AnyResponse | undefined;
  for (const answer of answers) {
    if (!answer) continue;
    const response = answer as unknown as AnyResponse;
    if (!merged) {
      merged = response;
      continue;
    }
    (merged[list] as unknown[]).push(...(response[list] as unknown[]));
    if (typeof response.throttleTimeMs === "number") {
      merged.throttleTimeMs = Math.max(merged.throttleTimeMs as number, response.throttleTimeMs);
    }
    if (merged.errorCode === ErrorCode.NONE && typeof response.errorCode === "number") {
      merged.errorCode = response.errorCode;
    }
  }
  return merged as R | undefined;
}

/** The routing feature, or undefined when the config has one cluster (nothing to route). */
export function createRouting(topology: Topology): Feature | undefined {
  return topology.routing.isSingleCluster ? undefined : new ClusterRoutingFeature(topology);
}
