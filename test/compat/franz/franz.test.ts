import { defineDriverSuite } from "../json-driver/suite.ts";
import { buildFranz } from "./program.ts";

defineDriverSuite({
  title: "franz-go through the proxy (Kafka 4.4, 3 brokers)",
  program: buildFranz,
  codecs: ["none", "gzip", "snappy", "lz4", "zstd"],
  groupProtocols: ["classic", "consumer"],
});
