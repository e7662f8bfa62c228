import type { ExchangeInfo, RequestContext } from "../../feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { forEachProducedRecords } from "../../protocol/produce-request-peek.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import { hasHighProducerIds, remapProducerIds } from "../../records/index.ts";
import type { Topology } from "../../topology/topology.ts";

/** Producer ids carry the place of the cluster that handed them out from this bit on. */
const ORIGIN_SHIFT = 56n;
const LOCAL_BITS = (1n << ORIGIN_SHIFT) - 1n;

/**
 * Producer ids across clusters. Each cluster hands out its own ids, so the same id may belong to two producers
 * on two clusters, and a broker would take one producer's batches for the other's duplicates. So:
 * - the id a client sees carries the place (in the config) of the cluster that handed it out:
 *   id + place << 56; the default cluster's ids, which idempotent producers get whenever it is reachable, are
 *   unchanged;
 * - a batch written to its own cluster carries the cluster's id, and one written to another cluster carries
 *   id + (place + 1) << 56, above anything a cluster hands out and distinct per origin.
 * Both are pure functions of the config, so every proxy instance maps alike. A changed batch is signed again.
 */
export class ProducerIdMapping {
  private readonly topology: Topology;
  private readonly places = new Map<string, bigint>();

  constructor(topology: Topology) {
    this.topology = topology;
    for (const [place, cluster] of topology.clusterNames.entries()) this.places.set(cluster, BigInt(place));
  }

  private placeOf(cluster: string): bigint {
    return this.places.get(cluster) ?? 0n;
  }

  private clusterAt(place: bigint): string | undefined {
    return this.topology.clusterNames[Number(place)];
  }

  /** The id a client sees for an id that `cluster` handed out. */
  toClient(producerId: bigint, cluster: string): bigint {
    return producerId < 0n ? producerId : producerId + (this.placeOf(cluster) << ORIGIN_SHIFT);
  }

  /** The id `cluster` gets for a client's id. */
  toUpstream(producerId: bigint, cluster: string): bigint {
    if (producerId < 0n) return producerId;
    const origin = producerId >> ORIGIN_SHIFT;
    const local = producerId & LOCAL_BITS;
    return origin === this.placeOf(cluster) ? local : local + ((origin + 1n) << ORIGIN_SHIFT);
  }

  /** The id a client knows for an id that `cluster` stores (the inverse of `toUpstream`). */
  fromUpstream(stored: bigint, cluster: string): bigint {
    if (stored < 0n) return stored;
    const shifted = stored >> ORIGIN_SHIFT;
    if (shifted === 0n) return this.toClient(stored, cluster);
    return (stored & LOCAL_BITS) + ((shifted - 1n) << ORIGIN_SHIFT);
  }

  /** DescribeProducers answered by `cluster`: the producer ids clients know. */
  describeProducers(response: ResponseOf<typeof ApiKey.DescribeProducers>, cluster: string): boolean {
    let changed = false;
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        for (const producer of partition.activeProducers) {
          const known = this.fromUpstream(producer.producerId, cluster);
          if (known !== producer.producerId) {
            producer.producerId = known;
            changed = true;
          }
        }
      }
    }
    return changed;
  }

  private remap(records: Buffer, cluster: string): void {
    // On the first cluster, only ids of another origin change (those of 2^56 and above): most batches are only read.
    if (this.placeOf(cluster) === 0n && !hasHighProducerIds(records)) return;
    remapProducerIds(records, (producerId) => this.toUpstream(producerId, cluster));
  }

  /** Produce passed on raw: the producer ids of its batches, in the frame itself. */
  patchProduceFrame(frame: Buffer, exchange: ExchangeInfo<typeof ApiKey.Produce>): void {
    const cluster = this.topology.clusterOfNode(exchange.nodeId);
    forEachProducedRecords(frame, exchange.apiVersion, (records) => this.remap(records, cluster));
  }

  /** A decoded Produce on its way to `cluster`: the producer ids of its batches, in place. */
  remapProduce(request: RequestOf<typeof ApiKey.Produce>, cluster: string): void {
    for (const topic of request.topicData) {
      for (const partition of topic.partitionData) {
        if (partition.records) this.remap(partition.records, cluster);
      }
    }
  }

  /**
   * InitProducerId: a transactional producer asks its coordinator (the request is already there); an idempotent
   * one gets its id from the default cluster, or from the cluster it asked when the default one cannot answer;
   * a producer bumping its epoch asks the cluster that handed out its id.
   */
  async initProducerId(
    request: RequestOf<typeof ApiKey.InitProducerId>,
    context: RequestContext<typeof ApiKey.InitProducerId>,
  ): Promise<ResponseOf<typeof ApiKey.InitProducerId>> {
    const own = this.topology.clusterOfNode(context.nodeId);
    let cluster = own;
    if (request.transactionalId === null) {
      cluster =
        request.producerId >= 0n
          ? (this.clusterAt(request.producerId >> ORIGIN_SHIFT) ?? own)
          : this.topology.routing.defaultCluster;
    }
    let response: ResponseOf<typeof ApiKey.InitProducerId> | undefined;
    if (cluster !== own) {
      const nodeId = this.topology.anyNodeOf(cluster);
      try {
        if (nodeId !== undefined) {
          const upstreamRequest = { ...request, producerId: this.toUpstream(request.producerId, cluster) };
          response = await context.send(ApiKey.InitProducerId, context.apiVersion, upstreamRequest, {
            nodeId,
          });
        }
      } catch (error) {
        context.log.warn(
          { cluster, err: (error as Error).message },
          "InitProducerId on another cluster failed",
        );
      }
      if (!response && request.producerId >= 0n) {
        return refusalResponse(
          ApiKey.InitProducerId,
          context.apiVersion,
          request,
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
        );
      }
      if (!response) cluster = own;
    }
    response ??= await context.next({ ...request, producerId: this.toUpstream(request.producerId, cluster) });
    response.producerId = this.toClient(response.producerId, cluster);
    return response;
  }
}
