import { type ResolveOptions, resolveClasspath } from "../maven/resolve.ts";

export type KafkaVersion = "4" | "3.9";
export const KAFKA_VERSIONS: readonly KafkaVersion[] = ["4", "3.9"];

export type Logging = "log4j2" | "reload4j";

export interface KafkaDistribution {
  version: KafkaVersion;
  brokerVersion: string;
  logging: Logging;
  broker: { name: string; coordinates: string[]; managed: string[] };
  tools: { name: string; coordinates: string[]; managed: string[] };
  /** Tool name -> main class, for the names this version knows. */
  mainClasses: Record<string, string>;
  /** Tools that take `--bootstrap-server` (the harness adds it when missing). */
  bootstrapFlagTools: string[];
}

const LOG4J2_SLF4J1_BINDING = "org.apache.logging.log4j:log4j-slf4j-impl:2.25.5";
const RELOAD4J_BINDING = "org.slf4j:slf4j-reload4j:1.7.36";

const BOOTSTRAP_FLAG_TOOLS = [
  "kafka-topics",
  "kafka-console-producer",
  "kafka-console-consumer",
  "kafka-consumer-groups",
  "kafka-configs",
  "kafka-consumer-perf-test",
  "kafka-acls",
  "kafka-metadata-quorum",
  "kafka-broker-api-versions",
  "kafka-transactions",
  "kafka-delete-records",
  "kafka-leader-election",
];

const COMMON_TOOLS: Record<string, string> = {
  "kafka-topics": "org.apache.kafka.tools.TopicCommand",
  "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
  "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
  "kafka-configs": "kafka.admin.ConfigCommand",
  "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
  "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
  "kafka-e2e-latency": "org.apache.kafka.tools.EndToEndLatency",
  "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
  "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
  "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
  "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
  "kafka-storage": "kafka.tools.StorageTool",
};

/**
 * Kafka 4.4.0 core names `kafka-tools-api:4.4.0`, which Maven Central does not carry, so 4.3.1 stands in.
 * `kafka.admin.ConfigCommand` left core in 4.4.0 and its new home (kafka-tools 4.4.0) is unpublished, so the
 * tools classpath carries core 4.3.1 next to kafka-tools 4.3.1.
 */
export const DISTRIBUTIONS: Record<KafkaVersion, KafkaDistribution> = {
  "4": {
    version: "4",
    brokerVersion: "4.4.0",
    logging: "log4j2",
    broker: {
      name: "kafka-broker-4.4.0",
      coordinates: ["org.apache.kafka:kafka_2.13:4.4.0", LOG4J2_SLF4J1_BINDING],
      managed: ["org.apache.kafka:kafka-tools-api:4.3.1"],
    },
    tools: {
      name: "kafka-tools-4.3.1",
      coordinates: [
        "org.apache.kafka:kafka-tools:4.3.1",
        "org.apache.kafka:kafka_2.13:4.3.1",
        LOG4J2_SLF4J1_BINDING,
      ],
      managed: [],
    },
    mainClasses: {
      ...COMMON_TOOLS,
      "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
      "kafka-acls": "org.apache.kafka.tools.AclCommand",
      "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    },
    bootstrapFlagTools: [...BOOTSTRAP_FLAG_TOOLS, "kafka-producer-perf-test"],
  },
  "3.9": {
    version: "3.9",
    brokerVersion: "3.9.2",
    logging: "reload4j",
    broker: {
      name: "kafka-broker-3.9.2",
      coordinates: ["org.apache.kafka:kafka_2.13:3.9.2", RELOAD4J_BINDING],
      managed: [],
    },
    tools: {
      name: "kafka-tools-3.9.2",
      coordinates: [
        "org.apache.kafka:kafka-tools:3.9.2",
        "org.apache.kafka:kafka_2.13:3.9.2",
        RELOAD4J_BINDING,
      ],
      managed: [],
    },
    mainClasses: {
      ...COMMON_TOOLS,
      "kafka-console-producer": "kafka.tools.ConsoleProducer",
      "kafka-acls": "kafka.admin.AclCommand",
      "kafka-broker-api-versions": "kafka.admin.BrokerApiVersionsCommand",
    },
    /** 3.9's ProducerPerformance wants `--producer-props bootstrap.servers=...`. */
    bootstrapFlagTools: BOOTSTRAP_FLAG_TOOLS,
  },
};

export class UnknownVersionError extends Error {
  override name = "UnknownVersionError";
}

export function distribution(version: string): KafkaDistribution {
  const found = Object.hasOwn(DISTRIBUTIONS, version) ? DISTRIBUTIONS[version as KafkaVersion] : undefined;
  if (!found)
    throw new UnknownVersionError(`unknown Kafka version "${version}" (known: ${KAFKA_VERSIONS.join(", ")})`);
  return found;
}

export function brokerClasspath(version: KafkaVersion, options: ResolveOptions = {}): Promise<string[]> {
  const { name, coordinates, managed } = DISTRIBUTIONS[version].broker;
  return resolveClasspath(name, coordinates, { ...options, managed });
}

export function toolsClasspath(version: KafkaVersion, options: ResolveOptions = {}): Promise<string[]> {
  const { name, coordinates, managed } = DISTRIBUTIONS[version].tools;
  return resolveClasspath(name, coordinates, { ...options, managed });
}
