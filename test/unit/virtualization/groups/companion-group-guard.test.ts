import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ApiHandlers, Feature } from "../../../../src/feature-api/feature.ts";
import { adminHandlers } from "../../../../src/features/virtualization/admin/index.ts";
import { dataHandlers } from "../../../../src/features/virtualization/data/index.ts";
import {
  COMPANION_GROUP_REFUSAL,
  COMPANION_REFUSAL_MESSAGE,
  companionGroupsNamed,
  GUARDED_API_KEYS,
  RefusalLog,
} from "../../../../src/features/virtualization/groups/companion-group-guard.ts";
import { groupHandlers } from "../../../../src/features/virtualization/groups/index.ts";
import { createVirtualization } from "../../../../src/features/virtualization/index.ts";
import { type Logger, silentLogger } from "../../../../src/log/logger.ts";
import {
  API_KEYS,
  ApiKey as Api,
  type ApiKey,
  apiName,
  ErrorCode,
  FIELD_VERSIONS,
  type FieldVersions,
  hasField,
  type RequestOf,
  requestEntityPaths,
} from "../../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest, encodeResponse } from "../../../../src/protocol/frame.ts";
import { refusalResponse } from "../../../../src/protocol/refusal.ts";
import { randomMessage, seededRng } from "../../../../src/protocol/testing/random-message.ts";
import { Chain } from "../../../../src/proxy/chain.ts";
import { exchange, fakeConnection } from "../../../helpers/chain-harness.ts";
import {
  clientOfCoordinator,
  companion,
  consumerGroupDescribeAnswer,
  consumerMember,
  GROUP,
  groupWorld,
  ORDERS,
  ORDERS_ID,
  ordersPartitionsOn,
  recordingBroker,
} from "./group-fixtures.ts";
import { acceptCommits, commitRequest, companionCommit, companionCommits } from "./offset-commit-fixtures.ts";

const REFUSED = ErrorCode.GROUP_AUTHORIZATION_FAILED;
/** FindCoordinator's key types: groups and transactional ids. */
const GROUP_KEY = 0;
const TRANSACTION_KEY = 1;
const SEEDS = 8;

// biome-ignore lint/suspicious/noExplicitAny: any API's message body
type Body = any;

/** The feature's handlers without the guard. */
const UNGUARDED: ApiHandlers = (() => {
  const context = groupWorld().context;
  return { ...dataHandlers(context), ...groupHandlers(context), ...adminHandlers(context) };
})();

/** The virtualization feature as composed for the proxy (every handler, guard included). */
function virtualization(): Feature[] {
  return [createVirtualization(groupWorld().context)];
}

const noBroker = () => {
  throw new Error("the request reached the broker");
};

function carries(message: string, path: string, version: number): boolean {
  const v = (FIELD_VERSIONS[message as keyof typeof FIELD_VERSIONS] as Record<string, FieldVersions>)[path];
  return v !== undefined && version >= v.first && (v.last === null || version <= v.last);
}

/** Sets every group the request names at that version: lists get `[others..., group]`, single fields `group`. */
function naming(apiKey: ApiKey, version: number, request: Body, group: string, others: string[] = []): Body {
  if (apiKey === Api.FindCoordinator) {
    const batched = hasField("FindCoordinatorRequest", "coordinatorKeys", version);
    return {
      ...request,
      keyType: GROUP_KEY,
      key: batched ? "" : group,
      coordinatorKeys: batched ? [...others, group] : [],
    };
  }
  const message = `${apiName(apiKey)}Request`;
  for (const path of requestEntityPaths(apiKey, "groupId")) {
    if (!carries(message, path, version)) continue;
    const steps = path.split(".");
    const set = (node: Body, at: number) => {
      if (node === null || node === undefined) return;
      if (Array.isArray(node)) {
        for (const element of node) set(element, at);
        return;
      }
      const key = steps[at]!;
      if (at < steps.length - 1) set(node[key], at + 1);
      else node[key] = Array.isArray(node[key]) ? [...others, group] : group;
    };
    set(request, 0);
  }
  return request;
}

/** Whether a refusal has entries to answer: requests of per-partition answers may name no partition. */
function asksAnything(apiKey: ApiKey, version: number, request: Body): boolean {
  if (apiKey === Api.OffsetCommit || apiKey === Api.TxnOffsetCommit) {
    return request.topics.some((t: Body) => t.partitions.length > 0);
  }
  if (apiKey === Api.OffsetFetch && !hasField("OffsetFetchResponse", "errorCode", version)) {
    if (hasField("OffsetFetchRequest", "groups", version)) return request.groups.length > 0;
    return (request.topics ?? []).some((t: Body) => t.partitionIndexes.length > 0);
  }
  return true;
}

/** Every error code in a response. */
function errorCodes(value: unknown, out: number[] = []): number[] {
  if (Array.isArray(value)) for (const element of value) errorCodes(element, out);
  else if (value !== null && typeof value === "object" && !Buffer.isBuffer(value)) {
    for (const [key, field] of Object.entries(value)) {
      if (key === "errorCode") out.push(field as number);
      else errorCodes(field, out);
    }
  }
  return out;
}

function versionsOf(apiKey: ApiKey): number[] {
  const api = API_KEYS.find((a) => a.apiKey === apiKey)!;
  return Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => api.minVersion + i);
}

/** Random strings never hold the separator by chance; a request's other fields stay what they were. */
function randomRequest(apiKey: ApiKey, version: number, seed: number): Body {
  return randomMessage(apiKey, "request", version, seededRng(seed * 100 + version), { nullProbability: 0 });
}

describe("companion group guard", () => {
  test("the guard error is GROUP_AUTHORIZATION_FAILED", () => {
    assert.equal(COMPANION_GROUP_REFUSAL, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  for (const apiKey of GUARDED_API_KEYS) {
    test(`${apiName(apiKey)}: a request naming a companion group is answered by the proxy, at every version`, async () => {
      for (const version of versionsOf(apiKey)) {
        let refused = 0;
        for (let seed = 0; seed < SEEDS; seed++) {
          const where = `v${version} seed ${seed}`;
          const request = naming(apiKey, version, randomRequest(apiKey, version, seed), companion(1), [
            GROUP,
          ]);
          // Random lists of groups may be empty: such a request names no group.
          if (companionGroupsNamed(apiKey, version, request).length === 0) continue;
          refused++;
          const { response, calls, intercepted } = await exchange(
            virtualization(),
            apiKey,
            version,
            request,
            noBroker,
          );
          assert.equal(intercepted, true, where);
          assert.equal(calls.length, 0, `${where}: nothing is sent upstream`);
          const expected = refusalResponse(apiKey, version, request, REFUSED, COMPANION_REFUSAL_MESSAGE);
          const wire = encodeResponse(apiKey, version, 0, expected);
          assert.deepEqual(response, decodeResponse(apiKey, version, wire.subarray(4)).body, where);
          assert.ok(errorCodes(expected).includes(REFUSED) || !asksAnything(apiKey, version, request), where);
        }
        assert.ok(refused > 0, `v${version}: some request named a companion group`);
      }
    });
  }

  for (const apiKey of GUARDED_API_KEYS) {
    // APIs the feature handles anyway are tested below, one by one.
    if (UNGUARDED[apiKey] !== undefined) continue;
    test(`${apiName(apiKey)}: a request naming real groups passes as bytes, at every version`, async () => {
      for (const version of versionsOf(apiKey)) {
        const request = naming(apiKey, version, randomRequest(apiKey, version, 0), GROUP, ["other"]);
        const answer = refusalResponse(apiKey, version, request, ErrorCode.NONE);
        const { response, calls, intercepted } = await exchange(
          virtualization(),
          apiKey,
          version,
          request,
          () => answer,
        );
        assert.equal(intercepted, false, `v${version}: not decoded`);
        assert.equal(calls.length, 1, `v${version}`);
        assert.ok(
          errorCodes(response).every((code) => code === ErrorCode.NONE),
          `v${version}`,
        );
      }
    });
  }

  test("the separator elsewhere than in a group id refuses nothing", async () => {
    const topic = `${ORDERS}.__kpp-vg.1-like`;
    const join: RequestOf<typeof Api.JoinGroup> = {
      groupId: GROUP,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.from(`subscribed to ${topic}`) }],
      reason: null,
    };
    const version = API_KEYS.find((a) => a.apiKey === Api.JoinGroup)!.maxVersion;
    const answer = refusalResponse(Api.JoinGroup, version, join, ErrorCode.NONE);
    const joined = await exchange(virtualization(), Api.JoinGroup, version, join, () => answer, {
      ...fakeConnection({ clientId: `client${topic}` }),
    });
    assert.equal(joined.intercepted, false);
    assert.equal(joined.calls.length, 1);
    assert.equal(joined.response!.errorCode, ErrorCode.NONE);
  });

  test("a frame holding the separator that cannot be decoded is taken, never passed on unread", () => {
    const chain = new Chain(virtualization());
    const heartbeat = (groupId: string) => {
      const whole = encodeRequest(
        { apiKey: Api.Heartbeat, apiVersion: 4, correlationId: 1, clientId: "c" },
        { groupId, generationId: 1, memberId: "m", groupInstanceId: null },
      );
      const truncated = Buffer.from(whole.subarray(0, whole.length - 3));
      truncated.writeInt32BE(truncated.length - 4, 0);
      return truncated;
    };
    const info = {
      apiKey: Api.Heartbeat,
      apiVersion: 4,
      connection: fakeConnection(),
      log: silentLogger,
      requestFrame: undefined,
    };
    assert.equal(chain.linksFor(info, heartbeat(companion(1)))?.length, 1);
    assert.equal(chain.linksFor(info, heartbeat(GROUP)), undefined, "without the separator: left as bytes");
  });

  test("FindCoordinator: group keys are refused, transactional ids that look like companions are not", async () => {
    for (const version of versionsOf(Api.FindCoordinator)) {
      const batched = hasField("FindCoordinatorRequest", "coordinatorKeys", version);
      const group = batched
        ? { key: "", keyType: GROUP_KEY, coordinatorKeys: [GROUP, companion(2)] }
        : { key: companion(2), keyType: GROUP_KEY, coordinatorKeys: [] };
      const refused = await exchange(virtualization(), Api.FindCoordinator, version, group, noBroker);
      if (batched) {
        assert.deepEqual(
          refused.response!.coordinators.map((c) => [c.key, c.nodeId, c.errorCode]),
          [
            [GROUP, -1, REFUSED],
            [companion(2), -1, REFUSED],
          ],
          `v${version}: the whole batch is refused`,
        );
      } else {
        assert.deepEqual([refused.response!.errorCode, refused.response!.nodeId], [REFUSED, -1]);
      }
      if (!hasField("FindCoordinatorRequest", "keyType", version)) continue;
      const transaction = { ...group, keyType: TRANSACTION_KEY };
      const answer = refusalResponse(Api.FindCoordinator, version, transaction, ErrorCode.NONE);
      const passed = await exchange(
        virtualization(),
        Api.FindCoordinator,
        version,
        transaction,
        () => answer,
      );
      assert.equal(passed.calls.length, 1, `v${version}: transactional ids are not groups`);
    }
  });

  test("DescribeGroups naming a real and a companion group: every group gets the error, nothing goes upstream", async () => {
    const { response, calls } = await exchange(
      virtualization(),
      Api.DescribeGroups,
      5,
      { groups: [GROUP, companion(3)], includeAuthorizedOperations: false },
      noBroker,
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(
      response!.groups.map((g) => [g.groupId, g.errorCode, g.groupState, g.members]),
      [
        [GROUP, REFUSED, "", []],
        [companion(3), REFUSED, "", []],
      ],
    );
  });

  test("a direct OffsetCommit to a companion group is refused per partition and never committed", async () => {
    const { broker, calls } = recordingBroker((call) => acceptCommits(call));
    const request = { ...commitRequest([{ name: ORDERS, partitions: [0, 1] }]), groupId: companion(1) };
    const { response } = await exchange(virtualization(), Api.OffsetCommit, 8, request, broker);
    assert.equal(calls.length, 0);
    assert.deepEqual(
      response!.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [
        [
          ORDERS,
          [
            [0, REFUSED],
            [1, REFUSED],
          ],
        ],
      ],
    );
  });

  test("the proxy's own commits to companion groups still go through: v >= P of the real group", async () => {
    const world = groupWorld();
    const features = [createVirtualization(world.context)];
    const { broker, calls } = recordingBroker((call) => acceptCommits(call));
    const request = commitRequest([{ name: ORDERS, partitions: [1, 6] }]);
    const { response } = await exchange(
      features,
      Api.OffsetCommit,
      8,
      request,
      broker,
      clientOfCoordinator(),
    );
    assert.deepEqual(
      companionCommits(calls).map((c) => c.request),
      [companionCommit(1, [[2, 6]])],
      "v6 = p2 of virtual group 1 is committed under the companion group",
    );
    assert.deepEqual(
      response!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [1, ErrorCode.NONE],
        [6, ErrorCode.NONE],
      ],
    );
  });

  test("DeleteGroups of a real group still deletes its companions below the guard", async () => {
    const { broker, calls } = recordingBroker((call) => ({
      throttleTimeMs: 0,
      results: (call.request.groupsNames as string[]).map((groupId) => ({
        groupId,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
      })),
    }));
    const { response } = await exchange(
      virtualization(),
      Api.DeleteGroups,
      2,
      { groupsNames: [GROUP] },
      broker,
    );
    assert.equal(response!.results[0]!.errorCode, ErrorCode.NONE);
    assert.ok(
      calls.some((c) => c.nodeId !== undefined && c.request.groupsNames.includes(companion(1))),
      "the companion groups are deleted by the proxy",
    );
  });

  test("ConsumerGroupDescribe of a real group keeps its virtual view (the inner response rewrite)", async () => {
    const member = consumerMember("c-1", 5, 1, {
      topicPartitions: [{ topicId: ORDERS_ID, topicName: ORDERS, partitions: [1] }],
    });
    const { broker } = recordingBroker(() => consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [member]));
    const request = { groupIds: [GROUP], includeAuthorizedOperations: false };
    const { response } = await exchange(virtualization(), Api.ConsumerGroupDescribe, 1, request, broker);
    assert.deepEqual(
      response!.groups[0]!.members[0]!.assignment.topicPartitions.map((t) => t.partitions),
      [ordersPartitionsOn(1)],
    );
  });

  test("a feature above the virtualization that sends a companion group request is refused too", async () => {
    const above: Feature = {
      name: "above",
      handlers: {
        [Api.Heartbeat]: {
          onRequest: (request, context) =>
            context.send(Api.Heartbeat, context.apiVersion, { ...request, groupId: companion(1) }),
        },
      },
    };
    const request = { groupId: GROUP, generationId: 1, memberId: "m", groupInstanceId: null };
    const { response, calls } = await exchange(
      [above, ...virtualization()],
      Api.Heartbeat,
      4,
      request,
      noBroker,
    );
    assert.equal(calls.length, 0);
    assert.equal(response!.errorCode, REFUSED);
  });
});

describe("refusal log", () => {
  test("one line per refusal, at most ten per ten seconds; the next line counts those left out", () => {
    let now = 0;
    const lines: Record<string, unknown>[] = [];
    const log = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
    const refusals = new RefusalLog(() => now);
    const info = {
      apiKey: Api.OffsetCommit,
      apiVersion: 8,
      connection: fakeConnection(),
      log,
      requestFrame: undefined,
    };
    for (let i = 0; i < 15; i++) refusals.refused(log, info, [companion(1)]);
    assert.equal(lines.length, 10);
    assert.deepEqual(lines[0], {
      api: "OffsetCommit",
      version: 8,
      groups: [companion(1)],
      client: "127.0.0.1:50000",
      clientId: "test-client",
    });
    now += 10_000;
    refusals.refused(log, info, [companion(2)]);
    assert.equal(lines.length, 11);
    assert.equal(lines[10]!.unloggedRefusals, 5);
    refusals.refused(log, info, [companion(2)]);
    assert.equal(lines[11]!.unloggedRefusals, undefined);
  });
});
