import { ApiKey, ErrorCode, type RequestOf, type ResponseOf, ZERO_UUID } from "../../protocol/api.ts";
import { refusalResponse } from "../../protocol/refusal.ts";
import type { ClusterRouting } from "../../topology/cluster-routing.ts";
import type { RouteLookups } from "./entry-routes.ts";

type MetadataRequest = RequestOf<typeof ApiKey.Metadata>;
type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;
type MetadataTopic = MetadataResponse["topics"][number];

/** What one cluster answered to its part of a Metadata request; undefined when it could not be asked. */
export interface ClusterMetadata {
  readonly cluster: string;
  readonly request: MetadataRequest;
  readonly response: MetadataResponse | undefined;
}

/**
 * The Metadata request for each cluster. Every cluster is asked, for its brokers at least: all topics when the
 * client asked for all, else the topics routed to it. Topics asked for by id alone go to the cluster that has the
 * id, or to every cluster when the proxy has not seen it.
 */
export function metadataRequests(
  request: MetadataRequest,
  routing: ClusterRouting,
  lookups: RouteLookups,
): Map<string, MetadataRequest> {
  const requests = new Map<string, MetadataRequest>();
  if (request.topics === null) {
    for (const cluster of routing.clusters) requests.set(cluster, request);
    return requests;
  }
  const topics = new Map<string, MetadataRequest["topics"] & object>();
  for (const cluster of routing.clusters) topics.set(cluster, []);
  for (const topic of request.topics) {
    const cluster = topic.name
      ? routing.clusterOfTopic(topic.name)
      : topic.topicId !== ZERO_UUID
        ? lookups.clusterOfTopicId(topic.topicId)
        : undefined;
    if (cluster === undefined) {
      for (const list of topics.values()) list.push(topic);
    } else {
      topics.get(cluster)?.push(topic);
    }
  }
  for (const [cluster, list] of topics) requests.set(cluster, { ...request, topics: list });
  return requests;
}

/**
 * One Metadata response for the virtual cluster: every cluster's brokers (already virtual nodes), each topic from
 * its own cluster only, the lowest node as the controller. Two topics of different clusters with the same id (a
 * UUID collision) cannot both be served by id: the second one listed is left out, and `onIdCollision` told. The topics asked of a cluster that did not answer get
 * LEADER_NOT_AVAILABLE, which clients retry. Throws when no cluster answered.
 */
export function mergeMetadata(
  answers: readonly ClusterMetadata[],
  apiVersion: number,
  routing: ClusterRouting,
  onIdCollision: (topicId: string, kept: string, refused: string) => void,
): MetadataResponse {
  const answered = answers.filter((answer) => answer.response !== undefined);
  if (answered.length === 0) throw new Error("no upstream cluster answered the metadata request");
  const merged = answered[0]!.response!;
  const brokers = new Map<number, MetadataResponse["brokers"][number]>();
  const topics: MetadataTopic[] = [];
  const byId = new Map<string, number>();
  const keep = (topic: MetadataTopic) => {
    const known = topic.topicId !== ZERO_UUID ? byId.get(topic.topicId) : undefined;
    if (known !== undefined) {
      const first = topics[known]!;
      if (first.name && topic.name && first.name !== topic.name) {
        onIdCollision(topic.topicId, first.name, topic.name);
        return;
      }
      if (first.errorCode !== ErrorCode.NONE && topic.errorCode === ErrorCode.NONE) topics[known] = topic;
      return;
    }
    if (topic.topicId !== ZERO_UUID) byId.set(topic.topicId, topics.length);
    topics.push(topic);
  };
  for (const { cluster, request, response } of answers) {
    if (!response) {
      for (const topic of unavailableTopics(request, apiVersion)) keep(topic);
      continue;
    }
    for (const broker of response.brokers) brokers.set(broker.nodeId, broker);
    merged.throttleTimeMs = Math.max(merged.throttleTimeMs, response.throttleTimeMs);
    for (const topic of response.topics) {
      if (topic.name && !routing.owns(cluster, topic.name)) continue;
      keep(topic);
    }
  }
  merged.brokers = [...brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  merged.controllerId = merged.brokers[0]?.nodeId ?? merged.controllerId;
  merged.topics = topics;
  return merged;
}

function unavailableTopics(request: MetadataRequest, apiVersion: number): MetadataTopic[] {
  if (!request.topics || request.topics.length === 0) return [];
  const refused = refusalResponse(ApiKey.Metadata, apiVersion, request, ErrorCode.LEADER_NOT_AVAILABLE);
  return refused.topics;
}
