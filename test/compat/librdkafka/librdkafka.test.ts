import { defineDriverSuite } from "../json-driver/suite.ts";
import { confluentKafka } from "./program.ts";

defineDriverSuite({
  title: "librdkafka (confluent-kafka) through the proxy (Kafka 4.4, 3 brokers)",
  program: async () => confluentKafka(),
  codecs: ["none", "gzip", "snappy", "lz4", "zstd"],
  groupProtocols: ["classic", "consumer"],
});
