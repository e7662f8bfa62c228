import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../../src/log/logger.ts";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import type { AdminClient } from "../../../src/topology/admin-client.ts";
import { GroupCoordinators } from "../../../src/topology/group-coordinators.ts";

type Lookup = (keys: string[]) => { key: string; nodeId: number; errorCode: number }[];

function coordinatorsOver(lookup: Lookup, virtualNodeOf: (nodeId: number) => number = (nodeId) => nodeId) {
  const lookups: [ApiKey, string[]][] = [];
  const admin = {
    request: async (apiKey: ApiKey, body: { coordinatorKeys: string[] }) => {
      lookups.push([apiKey, body.coordinatorKeys]);
      return { coordinators: lookup(body.coordinatorKeys) };
    },
  } as unknown as AdminClient;
  return { coordinators: new GroupCoordinators(admin, virtualNodeOf, silentLogger), lookups };
}

test("batched lookup, cached, one call per coordinator, retried on coordinator errors", async () => {
  const { coordinators, lookups } = coordinatorsOver(
    (keys) => keys.map((key) => ({ key, nodeId: key.endsWith("a") ? 1 : 2, errorCode: ErrorCode.NONE })),
    (nodeId) => nodeId + 100,
  );
  let moved = true;
  const calls: [number, string[]][] = [];
  const results = await coordinators.forEachCoordinator<string>(
    ["x-a", "y-b", "z-a"],
    async (nodeId, groups) => {
      calls.push([nodeId, groups]);
      return new Map(
        groups.map((group) => {
          const notHere = group === "y-b" && moved;
          if (notHere) moved = false;
          return [
            group,
            { errorCode: notHere ? ErrorCode.NOT_COORDINATOR : ErrorCode.NONE, result: `${group}@${nodeId}` },
          ];
        }),
      );
    },
    (code) => `failed ${code}`,
  );
  assert.deepEqual(Object.fromEntries(results), { "x-a": "x-a@101", "y-b": "y-b@102", "z-a": "z-a@101" });
  assert.deepEqual(lookups, [
    [ApiKey.FindCoordinator, ["x-a", "y-b", "z-a"]],
    [ApiKey.FindCoordinator, ["y-b"]],
  ]);
  assert.deepEqual(calls, [
    [101, ["x-a", "z-a"]],
    [102, ["y-b"]],
    [102, ["y-b"]],
  ]);
});

test("gives up after bounded retries with the last error", async () => {
  const { coordinators } = coordinatorsOver(() => [
    { key: "g", nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE },
  ]);
  const started = Date.now();
  const results = await coordinators.forEachCoordinator<number>(
    ["g"],
    async () => new Map(),
    (code) => code,
  );
  assert.equal(results.get("g"), ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.ok(Date.now() - started < 5000);
});
