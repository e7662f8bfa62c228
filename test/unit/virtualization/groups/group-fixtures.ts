import type { Feature } from "../../../../src/feature-api/feature.ts";
import type { VirtualizationContext } from "../../../../src/features/virtualization/context.ts";
import { groupHandlers } from "../../../../src/features/virtualization/groups/index.ts";
import { VirtualizationRules } from "../../../../src/features/virtualization/mapping/rules.ts";
import { silentLogger } from "../../../../src/log/logger.ts";
import { API_KEYS, ApiKey as Api, type ApiKey, apiInfo, ErrorCode } from "../../../../src/protocol/api.ts";
import { decodeRequest, encodeRequest } from "../../../../src/protocol/frame.ts";
import type { AdminClient, VersionBounds } from "../../../../src/topology/admin-client.ts";
import { GroupCoordinators } from "../../../../src/topology/group-coordinators.ts";
import { TopicDirectory, type TopicEntry } from "../../../../src/topology/topics.ts";
import { type FakeBroker, fakeConnection, type UpstreamCall } from "../../../helpers/chain-harness.ts";

/** "orders": V = 32 on P = 4, so virtual groups 0..7; v lives on p = v mod 4 in group g = floor(v / 4). */
export const ORDERS = "orders";
export const ORDERS_ID = "0a".repeat(16);
/** The virtual partitions of "orders" on physical partition p: p, p + 4, ..., p + 28. */
export const ordersPartitionsOn = (p: number) => Array.from({ length: 8 }, (_, g) => p + 4 * g);
/** "plain": not virtualized. */
export const PLAIN = "plain";
export const PLAIN_ID = "0b".repeat(16);

export const GROUP = "payments";
/** The virtual node the client is connected to: its group's coordinator. */
export const CLIENT_NODE = 3;
export const companion = (g: number) => `${GROUP}.__kpp-vg.${g}`;

const METADATA_TOPICS: TopicEntry[] = [
  { errorCode: ErrorCode.NONE, name: ORDERS, topicId: ORDERS_ID, partitions: [{}, {}, {}, {}] },
  { errorCode: ErrorCode.NONE, name: PLAIN, topicId: PLAIN_ID, partitions: [{}, {}] },
];

export interface GroupSetup {
  /** Virtual node that coordinates a group (the proxy's FindCoordinator answers); node 1 when absent. */
  coordinatorOf?: (group: string) => number;
  /** Topics the cluster's Metadata answers with (every topic listing and id lookup). */
  metadataTopics?: TopicEntry[];
  /** Topics the directory knows before the request (both by default). */
  knownTopics?: TopicEntry[];
  /** Per api key, the newest version the fake brokers speak; the proxy's newest otherwise. */
  brokerMaxVersions?: Partial<Record<ApiKey, number>>;
}

export interface GroupWorld {
  readonly context: VirtualizationContext;
  readonly features: Feature[];
  /** Version negotiations: [node (undefined: any), api name, bounds, version picked]. */
  readonly negotiated: [number | undefined, string, VersionBounds | undefined, number][];
  /** The proxy's own requests through the admin client: [api name, body]. */
  readonly adminRequests: [string, unknown][];
}

/**
 * The virtualization feature with only its group handlers, over a fake admin client (FindCoordinator,
 * Metadata, version negotiation like the real one's against brokers that speak `brokerMaxVersions`).
 */
export function groupWorld(setup: GroupSetup = {}): GroupWorld {
  const coordinatorOf = setup.coordinatorOf ?? (() => 1);
  const metadataTopics = setup.metadataTopics ?? METADATA_TOPICS;
  const negotiated: GroupWorld["negotiated"] = [];
  const adminRequests: GroupWorld["adminRequests"] = [];
  const admin = {
    request: async (apiKey: ApiKey, body: { coordinatorKeys?: string[] }) => {
      adminRequests.push([apiInfo(apiKey)!.name, body]);
      if (apiKey === Api.FindCoordinator) {
        return {
          coordinators: body.coordinatorKeys!.map((key) => ({
            key,
            nodeId: coordinatorOf(key),
            host: "broker",
            port: 9092,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
          })),
        };
      }
      if (apiKey === Api.Metadata) return { topics: metadataTopics };
      throw new Error(`unexpected admin request ${apiInfo(apiKey)!.name}`);
    },
    versionFor: async (nodeId: number | undefined, apiKey: ApiKey, bounds?: VersionBounds) => {
      const codec = API_KEYS.find((api) => api.apiKey === apiKey)!;
      const max = Math.min(
        codec.maxVersion,
        setup.brokerMaxVersions?.[apiKey] ?? codec.maxVersion,
        bounds?.max ?? Number.POSITIVE_INFINITY,
      );
      const min = Math.max(codec.minVersion, bounds?.min ?? 0);
      if (max < min) throw new Error(`no common version of ${codec.name}`);
      negotiated.push([nodeId, codec.name, bounds, max]);
      return max;
    },
    requestAt: async () => {
      throw new Error("unexpected requestAt");
    },
  } as unknown as AdminClient;
  const topics = new TopicDirectory(admin, silentLogger);
  topics.learn(setup.knownTopics ?? METADATA_TOPICS);
  const context: VirtualizationContext = {
    rules: new VirtualizationRules(
      [{ pattern: /^orders$/, source: "orders", virtualPartitions: 32, physicalPartitions: 4 }],
      [],
    ),
    topics,
    coordinators: new GroupCoordinators(admin, (nodeId) => nodeId, silentLogger),
    admin,
    markerHeader: "kpp-v",
    keepMarker: false,
    readAheadBytes: 0,
    maxDecompressedBatchBytes: 16 * 1024 * 1024,
    log: silentLogger,
  };
  return {
    context,
    features: [{ name: "virtualization", handlers: groupHandlers(context) }],
    negotiated,
    adminRequests,
  };
}

/** A request as the broker reads it: through the wire format at its version (fields it lacks are gone). */
export interface BrokerCall {
  readonly api: string;
  readonly apiVersion: number;
  /** The virtual node it was sent to over the proxy's connections; undefined: the client's own connection. */
  readonly nodeId: number | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: any API's request body
  readonly request: any;
}

/** A fake broker that encodes every request it gets (so a body a version cannot carry fails) and records it. */
export function recordingBroker(answer: (call: BrokerCall) => unknown): {
  broker: FakeBroker;
  calls: BrokerCall[];
} {
  const calls: BrokerCall[] = [];
  const broker: FakeBroker = (call: UpstreamCall) => {
    const frame = encodeRequest(
      { apiKey: call.apiKey, apiVersion: call.apiVersion, correlationId: 1, clientId: "test" },
      call.request,
    );
    const seen: BrokerCall = {
      api: apiInfo(call.apiKey)!.name,
      apiVersion: call.apiVersion,
      nodeId: call.options?.nodeId,
      request: plain(decodeRequest(frame.subarray(4)).body),
    };
    calls.push(seen);
    return answer(seen);
  };
  return { broker, calls };
}

/** A decoded message without the keys that hold undefined (unknown tagged fields), for deepEqual. */
export function plain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(plain) as T;
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = plain(field);
  return out as T;
}

/** A DescribeGroups answer for one classic group with these members. */
export function describeGroupsAnswer(groupId: string, errorCode: number, memberIds: string[] = []) {
  return {
    throttleTimeMs: 0,
    groups: [
      {
        errorCode,
        errorMessage: null,
        groupId,
        groupState: memberIds.length > 0 ? "Stable" : "Dead",
        protocolType: memberIds.length > 0 ? "consumer" : "",
        protocolData: "",
        members: memberIds.map((memberId) => ({
          memberId,
          groupInstanceId: null,
          clientId: "client",
          clientHost: "/10.0.0.9",
          memberMetadata: Buffer.alloc(0),
          memberAssignment: Buffer.alloc(0),
        })),
        authorizedOperations: -2147483648,
      },
    ],
  };
}

export interface DescribedAssignment {
  topicPartitions: { topicId: string; topicName: string; partitions: number[] }[];
}

/** A consumer-protocol member as ConsumerGroupDescribe reports it. */
export function consumerMember(
  memberId: string,
  memberEpoch: number,
  memberType: number,
  assignment: DescribedAssignment = { topicPartitions: [] },
  targetAssignment: DescribedAssignment = { topicPartitions: [] },
) {
  return {
    memberId,
    instanceId: null,
    rackId: null,
    memberEpoch,
    clientId: "client",
    clientHost: "/10.0.0.9",
    subscribedTopicNames: [ORDERS],
    subscribedTopicRegex: null,
    assignment,
    targetAssignment,
    memberType,
  };
}

/** A ConsumerGroupDescribe answer for one group. */
export function consumerGroupDescribeAnswer(
  groupId: string,
  errorCode: number,
  members: ReturnType<typeof consumerMember>[] = [],
) {
  return {
    throttleTimeMs: 0,
    groups: [
      {
        errorCode,
        errorMessage: null,
        groupId,
        groupState: members.length > 0 ? "Stable" : "Empty",
        groupEpoch: 3,
        assignmentEpoch: 3,
        assignorName: "uniform",
        members,
        authorizedOperations: -2147483648,
      },
    ],
  };
}

/** Per topic, [partition, error code] pairs of a response. */
export function partitionErrors(response: {
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
}) {
  return response.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]);
}

/** A client connection to virtual node `CLIENT_NODE`, the coordinator of its group. */
export function clientOfCoordinator() {
  return fakeConnection({ nodeId: CLIENT_NODE, listener: `node-${CLIENT_NODE}` });
}
