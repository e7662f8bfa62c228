/**
 * What Kafka's broker checks before it serves each API (KafkaApis, ControllerApis and the coordinators'
 * handlers): per kind of resource the request names, the operation. Entries list the resources in the order
 * Kafka checks them (a transactional id or group before topics), and the refusal names the first that fails.
 */
import { ApiKey } from "../../protocol/api.ts";
import type { AclOperation, ResourceType } from "./operations.ts";

export type RequiredOperations = { readonly [R in ResourceType]?: AclOperation };

export const REQUIRED_OPERATIONS = {
  /** The transactional id only when the request has one. */
  [ApiKey.Produce]: { transactional_id: "write", topic: "write" },
  /** A follower's fetch (a replica id) needs cluster_action instead. */
  [ApiKey.Fetch]: { topic: "read", cluster: "cluster_action" },
  [ApiKey.ListOffsets]: { topic: "describe" },
  /** Unseen topics are hidden; creating one on the way (allowAutoTopicCreation) needs create, on it or the cluster. */
  [ApiKey.Metadata]: { topic: "describe", cluster: "create" },
  [ApiKey.OffsetCommit]: { group: "read", topic: "read" },
  [ApiKey.OffsetFetch]: { group: "describe", topic: "describe" },
  /** By key type: describe on the group or on the transactional id; share keys need cluster_action. */
  [ApiKey.FindCoordinator]: { group: "describe", transactional_id: "describe", cluster: "cluster_action" },
  [ApiKey.JoinGroup]: { group: "read" },
  [ApiKey.Heartbeat]: { group: "read" },
  [ApiKey.LeaveGroup]: { group: "read" },
  [ApiKey.SyncGroup]: { group: "read" },
  [ApiKey.DescribeGroups]: { group: "describe" },
  /** Lists the groups the principal may describe; all of them with describe on the cluster. */
  [ApiKey.ListGroups]: { group: "describe", cluster: "describe" },
  /** Create on the cluster covers every topic. */
  [ApiKey.CreateTopics]: { cluster: "create", topic: "create" },
  /** Delete on the cluster covers every topic. */
  [ApiKey.DeleteTopics]: { cluster: "delete", topic: "delete" },
  [ApiKey.DeleteRecords]: { topic: "delete" },
  /** Without a transactional id: idempotent_write on the cluster, or write on some topic. */
  [ApiKey.InitProducerId]: { transactional_id: "write", cluster: "idempotent_write" },
  /** cluster_action (a broker's own request) skips the topic check. */
  [ApiKey.OffsetForLeaderEpoch]: { topic: "describe", cluster: "cluster_action" },
  /** Versions sent by brokers (with `transactions`) need cluster_action instead. */
  [ApiKey.AddPartitionsToTxn]: { transactional_id: "write", topic: "write", cluster: "cluster_action" },
  [ApiKey.AddOffsetsToTxn]: { transactional_id: "write", group: "read" },
  [ApiKey.EndTxn]: { transactional_id: "write" },
  /** Alter on the cluster, or else cluster_action. */
  [ApiKey.WriteTxnMarkers]: { cluster: "alter" },
  [ApiKey.TxnOffsetCommit]: { transactional_id: "write", group: "read", topic: "read" },
  [ApiKey.DescribeAcls]: { cluster: "describe" },
  [ApiKey.CreateAcls]: { cluster: "alter" },
  [ApiKey.DeleteAcls]: { cluster: "alter" },
  /** Per resource: a topic, a group, or the cluster for broker, broker logger and client metrics resources. */
  [ApiKey.DescribeConfigs]: {
    topic: "describe_configs",
    group: "describe_configs",
    cluster: "describe_configs",
  },
  [ApiKey.AlterConfigs]: { topic: "alter_configs", group: "alter_configs", cluster: "alter_configs" },
  [ApiKey.IncrementalAlterConfigs]: {
    topic: "alter_configs",
    group: "alter_configs",
    cluster: "alter_configs",
  },
  [ApiKey.AlterReplicaLogDirs]: { cluster: "alter" },
  [ApiKey.DescribeLogDirs]: { cluster: "describe" },
  [ApiKey.CreatePartitions]: { topic: "alter" },
  [ApiKey.DeleteGroups]: { group: "delete" },
  [ApiKey.ElectLeaders]: { cluster: "alter" },
  [ApiKey.AlterPartitionReassignments]: { cluster: "alter" },
  [ApiKey.ListPartitionReassignments]: { cluster: "describe" },
  [ApiKey.OffsetDelete]: { group: "delete", topic: "read" },
  [ApiKey.DescribeClientQuotas]: { cluster: "describe_configs" },
  [ApiKey.AlterClientQuotas]: { cluster: "alter_configs" },
  [ApiKey.DescribeUserScramCredentials]: { cluster: "describe" },
  [ApiKey.AlterUserScramCredentials]: { cluster: "alter" },
  [ApiKey.Vote]: { cluster: "cluster_action" },
  [ApiKey.BeginQuorumEpoch]: { cluster: "cluster_action" },
  [ApiKey.EndQuorumEpoch]: { cluster: "cluster_action" },
  [ApiKey.DescribeQuorum]: { cluster: "describe" },
  [ApiKey.AlterPartition]: { cluster: "cluster_action" },
  [ApiKey.UpdateFeatures]: { cluster: "alter" },
  [ApiKey.Envelope]: { cluster: "cluster_action" },
  [ApiKey.FetchSnapshot]: { cluster: "cluster_action" },
  /** Needs nothing; its clusterAuthorizedOperations are the principal's. */
  [ApiKey.DescribeCluster]: {},
  [ApiKey.DescribeProducers]: { topic: "read" },
  [ApiKey.BrokerRegistration]: { cluster: "cluster_action" },
  [ApiKey.BrokerHeartbeat]: { cluster: "cluster_action" },
  [ApiKey.UnregisterBroker]: { cluster: "alter" },
  /** Topics of a described transaction are shown only when the principal may describe them. */
  [ApiKey.DescribeTransactions]: { transactional_id: "describe", topic: "describe" },
  /** Lists the transactions whose ids the principal may describe. */
  [ApiKey.ListTransactions]: { transactional_id: "describe" },
  [ApiKey.AllocateProducerIds]: { cluster: "cluster_action" },
  /** Every subscribed topic named must be describable. */
  [ApiKey.ConsumerGroupHeartbeat]: { group: "read", topic: "describe" },
  /** A group assigning topics the principal may not describe is refused with TOPIC_AUTHORIZATION_FAILED. */
  [ApiKey.ConsumerGroupDescribe]: { group: "describe", topic: "describe" },
  [ApiKey.ControllerRegistration]: { cluster: "cluster_action" },
  [ApiKey.GetTelemetrySubscriptions]: {},
  [ApiKey.PushTelemetry]: {},
  [ApiKey.AssignReplicasToDirs]: { cluster: "cluster_action" },
  [ApiKey.ListConfigResources]: { cluster: "describe_configs" },
  [ApiKey.DescribeTopicPartitions]: { topic: "describe" },
  [ApiKey.ShareGroupHeartbeat]: { group: "read", topic: "describe" },
  [ApiKey.ShareGroupDescribe]: { group: "describe", topic: "describe" },
  [ApiKey.ShareFetch]: { group: "read", topic: "read" },
  [ApiKey.ShareAcknowledge]: { group: "read", topic: "read" },
  [ApiKey.AddRaftVoter]: { cluster: "alter" },
  [ApiKey.RemoveRaftVoter]: { cluster: "alter" },
  [ApiKey.UpdateRaftVoter]: { cluster: "cluster_action" },
  [ApiKey.InitializeShareGroupState]: { cluster: "cluster_action" },
  [ApiKey.ReadShareGroupState]: { cluster: "cluster_action" },
  [ApiKey.WriteShareGroupState]: { cluster: "cluster_action" },
  [ApiKey.DeleteShareGroupState]: { cluster: "cluster_action" },
  [ApiKey.ReadShareGroupStateSummary]: { cluster: "cluster_action" },
  [ApiKey.StreamsGroupHeartbeat]: { group: "read", topic: "describe" },
  [ApiKey.StreamsGroupDescribe]: { group: "describe", topic: "describe" },
  [ApiKey.DescribeShareGroupOffsets]: { group: "describe", topic: "describe" },
  [ApiKey.AlterShareGroupOffsets]: { group: "read", topic: "read" },
  [ApiKey.DeleteShareGroupOffsets]: { group: "delete", topic: "read" },
} as const satisfies { readonly [K in ApiKey]?: RequiredOperations };

/** APIs every client may use, before and without authenticating: no feature handler is installed for them. */
export const ALWAYS_ALLOWED_APIS: readonly ApiKey[] = [
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
];

/** The operations Kafka checks for an API, or undefined when this table has none (the API is refused). */
export function requiredOperations(apiKey: ApiKey): RequiredOperations | undefined {
  return (REQUIRED_OPERATIONS as { readonly [K in ApiKey]?: RequiredOperations })[apiKey];
}
