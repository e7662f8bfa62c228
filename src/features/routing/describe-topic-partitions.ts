import type { RequestContext } from "../../feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import type { Topology } from "../../topology/topology.ts";

type Request = RequestOf<typeof ApiKey.DescribeTopicPartitions>;
type Response = ResponseOf<typeof ApiKey.DescribeTopicPartitions>;
type Cursor = NonNullable<Response["nextCursor"]>;

function before(a: Cursor, b: Cursor): boolean {
  return a.topicName < b.topicName || (a.topicName === b.topicName && a.partitionIndex < b.partitionIndex);
}

/**
 * DescribeTopicPartitions over several clusters: each cluster describes its own topics (all of them when the
 * client names none), with the client's cursor, and the pages merge in name order. When some cluster stopped
 * early, the merged page stops at the earliest such cursor, so the next page (asked with it) continues in order.
 * A cluster that cannot be reached answers LEADER_NOT_AVAILABLE for the topics named to it.
 */
export async function describeTopicPartitions(
  request: Request,
  context: RequestContext<typeof ApiKey.DescribeTopicPartitions>,
  topology: Topology,
): Promise<Response> {
  const routing = topology.routing;
  const own = topology.clusterOfNode(context.nodeId);
  const parts = new Map<string, Request>();
  if (request.topics.length === 0) {
    for (const cluster of routing.clusters) parts.set(cluster, request);
  } else {
    for (const topic of request.topics) {
      const cluster = routing.clusterOfTopic(topic.name);
      const part = parts.get(cluster);
      if (part) part.topics.push(topic);
      else parts.set(cluster, { ...request, topics: [topic] });
    }
  }
  if (parts.size === 1 && parts.has(own)) return context.next(request);
  const answers = await Promise.all(
    [...parts].map(async ([cluster, part]) => {
      try {
        if (cluster === own) return { cluster, response: await context.next(part) };
        const nodeId = topology.anyNodeOf(cluster);
        if (nodeId === undefined) throw new Error(`no broker of cluster ${cluster} is known`);
        const response = await context.send(ApiKey.DescribeTopicPartitions, context.apiVersion, part, {
          nodeId,
        });
        return { cluster, response };
      } catch (error) {
        context.log.warn(
          { cluster, err: (error as Error).message },
          "a cluster could not describe its topics",
        );
        const refused = refusalResponse(
          ApiKey.DescribeTopicPartitions,
          context.apiVersion,
          part.topics.length === 0 ? { ...part, topics: [] } : part,
          ErrorCode.LEADER_NOT_AVAILABLE,
        );
        return { cluster, response: refused };
      }
    }),
  );
  const merged: Response = { throttleTimeMs: 0, topics: [], nextCursor: null };
  for (const { cluster, response } of answers) {
    merged.throttleTimeMs = Math.max(merged.throttleTimeMs, response.throttleTimeMs);
    for (const topic of response.topics) {
      if (topic.name && !routing.owns(cluster, topic.name)) continue;
      merged.topics.push(topic);
    }
    const cursor = response.nextCursor;
    if (cursor && (!merged.nextCursor || before(cursor, merged.nextCursor))) merged.nextCursor = cursor;
  }
  const stop = merged.nextCursor;
  if (stop) merged.topics = merged.topics.filter((topic) => (topic.name ?? "") <= stop.topicName);
  merged.topics.sort((a, b) =>
    (a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0,
  );
  return merged;
}
