import { describe } from "node:test";
import {
  type ResetEnvironment,
  resetScenarios,
  startJavaMember,
  useResetEnvironment,
} from "./offset-reset-support.ts";

/** Heartbeats and sessions short enough for quick rebalances on a test cluster. */
const CLASSIC = { "heartbeat.interval.ms": "500", "session.timeout.ms": "10000", "client.id": "java-reset" };
const EAGER = {
  ...CLASSIC,
  "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RangeAssignor",
};
const COOPERATIVE = {
  ...CLASSIC,
  "partition.assignment.strategy": "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
};
const KIP_848 = { "group.protocol": "consumer", "client.id": "java-reset" };

let env: ResetEnvironment;

function twoMembers(properties: Record<string, string>) {
  return (topic: string, group: string) =>
    Promise.all([0, 1].map(() => startJavaMember(env.proxy.bootstrap, topic, group, properties)));
}

describe("online offset reset with Java consumers that keep running", { timeout: 600_000 }, () => {
  useResetEnvironment((ready) => {
    env = ready;
  });

  describe("classic eager (RangeAssignor), plain topic", () => {
    resetScenarios(() => env, "java-eager", twoMembers(EAGER));
  });

  describe("classic eager (RangeAssignor), virtualized topic", () => {
    resetScenarios(() => env, "java-eager", twoMembers(EAGER), { virtualized: true });
  });

  describe("classic cooperative-sticky, plain topic", () => {
    resetScenarios(() => env, "java-cooperative", twoMembers(COOPERATIVE));
  });

  describe("classic cooperative-sticky, virtualized topic", () => {
    resetScenarios(() => env, "java-cooperative", twoMembers(COOPERATIVE), { virtualized: true });
  });

  describe("KIP-848 (group.protocol=consumer), plain topic", () => {
    resetScenarios(() => env, "java-consumer", twoMembers(KIP_848));
  });

  // The broker assigns KIP-848 groups physical partitions: the virtualized topic's one goes to one member.
  describe("KIP-848 (group.protocol=consumer), virtualized topic", () => {
    resetScenarios(
      () => env,
      "java-consumer",
      async (topic, group) => [await startJavaMember(env.proxy.bootstrap, topic, group, KIP_848)],
      { virtualized: true },
    );
  });
});
