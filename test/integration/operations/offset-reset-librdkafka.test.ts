import { describe } from "node:test";
import {
  type ResetEnvironment,
  resetScenarios,
  startLibrdkafkaMember,
  useResetEnvironment,
} from "./offset-reset-support.ts";

/** Heartbeats and sessions short enough for quick rebalances on a test cluster. */
const CLASSIC = {
  "heartbeat.interval.ms": "500",
  "session.timeout.ms": "10000",
  "client.id": "rdkafka-reset",
};
const COOPERATIVE = { ...CLASSIC, "partition.assignment.strategy": "cooperative-sticky" };
const KIP_848 = { "group.protocol": "consumer", "client.id": "rdkafka-reset" };

let env: ResetEnvironment;

function twoMembers(properties: Record<string, string>) {
  return (topic: string, group: string) =>
    Promise.all([0, 1].map(() => startLibrdkafkaMember(env.proxy.bootstrap, topic, group, properties)));
}

describe("online offset reset with librdkafka consumers that keep running", { timeout: 400_000 }, () => {
  useResetEnvironment((ready) => {
    env = ready;
  });

  describe("classic eager (range), plain topic", () => {
    resetScenarios(() => env, "rdkafka-eager", twoMembers(CLASSIC));
  });

  describe("classic cooperative-sticky, virtualized topic", () => {
    resetScenarios(() => env, "rdkafka-cooperative", twoMembers(COOPERATIVE), { virtualized: true });
  });

  describe("KIP-848 (group.protocol=consumer), plain topic", () => {
    resetScenarios(() => env, "rdkafka-consumer", twoMembers(KIP_848));
  });

  // The broker assigns KIP-848 groups physical partitions: the virtualized topic's one goes to one member.
  describe("KIP-848 (group.protocol=consumer), virtualized topic", () => {
    resetScenarios(
      () => env,
      "rdkafka-consumer",
      async (topic, group) => [await startLibrdkafkaMember(env.proxy.bootstrap, topic, group, KIP_848)],
      { virtualized: true },
    );
  });
});
