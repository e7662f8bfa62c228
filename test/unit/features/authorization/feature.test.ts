import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AUTHORIZATION_FEATURE,
  createAuthorization,
  parseAuthorization,
} from "../../../../src/features/authorization/index.ts";
import { ENTITY_TYPE_OF } from "../../../../src/features/authorization/named-entities.ts";
import {
  ALWAYS_ALLOWED_APIS,
  REQUIRED_OPERATIONS,
} from "../../../../src/features/authorization/required-operations.ts";
import type { TopicIdLookup } from "../../../../src/features/authorization/topic-ids.ts";
import { silentLogger } from "../../../../src/log/logger.ts";
import {
  API_KEYS,
  ApiKey,
  apiName,
  type EntityType,
  ErrorCode,
  requestEntities,
  requestEntityPaths,
} from "../../../../src/protocol/api.ts";
import { randomMessage, seededRng } from "../../../../src/protocol/testing/random-message.ts";
import type { TopicDirectory } from "../../../../src/topology/topics.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, type Body, CONFIG, capturingLogger, flushed, latest, send } from "./fixtures.ts";

const HANDLED = API_KEYS.map((api) => api.apiKey as ApiKey).filter(
  (key) => !ALWAYS_ALLOWED_APIS.includes(key),
);
const SEEDS = 3;

function versionsOf(apiKey: ApiKey): number[] {
  const api = API_KEYS.find((a) => a.apiKey === apiKey)!;
  const out: number[] = [];
  for (let v = api.minVersion; v <= api.maxVersion; v++) out.push(v);
  return out;
}

function randomRequest(apiKey: ApiKey, version: number, seed: number): Body {
  return randomMessage(apiKey, "request", version, seededRng(seed * 1000 + version), {
    nullProbability: 0.1,
  });
}

function randomAnswer(call: UpstreamCall): Body {
  return randomMessage(call.apiKey, "response", call.apiVersion, seededRng(call.apiVersion + 7));
}

const joinGroup = {
  groupId: "tenant-a.group",
  sessionTimeoutMs: 10000,
  rebalanceTimeoutMs: 10000,
  memberId: "",
  groupInstanceId: null,
  protocolType: "consumer",
  protocols: [],
  reason: null,
};

describe("the feature", () => {
  test("is named authorization; disabled, it handles nothing", () => {
    const disabled = createAuthorization(parseAuthorization({ enabled: false }), silentLogger);
    assert.equal(disabled.name, AUTHORIZATION_FEATURE);
    assert.deepEqual(disabled.handlers, {});
    assert.equal(authorization().name, "authorization");
  });

  test("handles every API but ApiVersions and SASL's", () => {
    const handled = Object.keys(authorization().handlers)
      .map(Number)
      .sort((a, b) => a - b);
    assert.deepEqual(
      handled,
      [...HANDLED].sort((a, b) => a - b),
    );
    for (const key of [ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]) {
      assert.ok(!handled.includes(key), apiName(key));
    }
  });

  test("a super user's requests pass as the bytes sent, for every API (the feature does not decode them)", async () => {
    const feature = authorization();
    for (const apiKey of HANDLED) {
      const version = latest(apiKey);
      const request = randomRequest(apiKey, version, 1);
      const { intercepted, calls } = await send(feature, "admin", apiKey, version, request, randomAnswer);
      assert.equal(intercepted, false, apiName(apiKey));
      assert.equal(calls.length, 1, apiName(apiKey));
    }
  });

  test("another principal's requests are decoded and checked", async () => {
    const { intercepted } = await send(
      authorization(),
      "alice",
      ApiKey.JoinGroup,
      latest(ApiKey.JoinGroup),
      joinGroup,
      randomAnswer,
    );
    assert.equal(intercepted, true);
  });

  test("disabled: every request passes as bytes, whoever sends it", async () => {
    const disabled = createAuthorization(parseAuthorization({ enabled: false }), silentLogger);
    const { intercepted, calls } = await send(
      disabled,
      undefined,
      ApiKey.JoinGroup,
      latest(ApiKey.JoinGroup),
      { ...joinGroup, groupId: "any" },
      randomAnswer,
    );
    assert.equal(intercepted, false);
    assert.equal(calls.length, 1);
  });
});

test("the topology's topic directory serves topic ids as it is", () => {
  const fits: TopicDirectory extends TopicIdLookup ? true : false = true;
  assert.equal(fits, true);
});

describe("anonymous clients", () => {
  test("may do nothing when not allowed", async () => {
    const feature = authorization();
    const join = await send(feature, undefined, ApiKey.JoinGroup, latest(ApiKey.JoinGroup), joinGroup);
    assert.equal(join.response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const telemetry = await send(
      feature,
      undefined,
      ApiKey.GetTelemetrySubscriptions,
      latest(ApiKey.GetTelemetrySubscriptions),
      {
        clientInstanceId: "0".repeat(32),
      },
    );
    assert.equal(telemetry.calls.length, 0);
    assert.equal(telemetry.response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  });

  test("get the ANONYMOUS rules when allowed", async () => {
    const config = {
      allow_anonymous: true,
      principals: {
        ANONYMOUS: {
          rules: [{ effect: "allow", resource: "group", pattern: "public", operations: ["read"] }],
        },
      },
    };
    const feature = authorization(config);
    const allowed = await send(
      feature,
      undefined,
      ApiKey.JoinGroup,
      latest(ApiKey.JoinGroup),
      { ...joinGroup, groupId: "public" },
      randomAnswer,
    );
    assert.equal(allowed.calls.length, 1);
    const refused = await send(feature, undefined, ApiKey.JoinGroup, latest(ApiKey.JoinGroup), joinGroup);
    assert.equal(refused.response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const telemetry = await send(
      feature,
      undefined,
      ApiKey.GetTelemetrySubscriptions,
      latest(ApiKey.GetTelemetrySubscriptions),
      {
        clientInstanceId: "0".repeat(32),
      },
      randomAnswer,
    );
    assert.equal(telemetry.calls.length, 1, "an API that needs nothing is open to admitted clients");
  });
});

describe("refusal log", () => {
  test("one line per refused request: principal, client, API, operation, resource and names", async () => {
    const { log, lines } = capturingLogger();
    const feature = authorization(CONFIG, {}, log);
    await send(feature, "alice", ApiKey.JoinGroup, latest(ApiKey.JoinGroup), {
      ...joinGroup,
      groupId: "tenant-b.group",
    });
    await send(feature, "alice", ApiKey.JoinGroup, latest(ApiKey.JoinGroup), joinGroup, randomAnswer);
    await flushed();
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.principal, "alice");
    assert.equal(line.client, "127.0.0.1:50000");
    assert.equal(line.api, "JoinGroup");
    assert.deepEqual(line.denied, [{ operation: "read", resource: "group", names: ["tenant-b.group"] }]);
    assert.match(String(line.msg), /principal "alice" JoinGroup/);
  });

  test("an API without a rule says so", async () => {
    const { log, lines } = capturingLogger();
    const request = { ownerPrincipalType: null, ownerPrincipalName: null, renewers: [], maxLifetimeMs: -1n };
    await send(
      authorization(CONFIG, {}, log),
      "alice",
      ApiKey.CreateDelegationToken,
      latest(ApiKey.CreateDelegationToken),
      request,
    );
    await flushed();
    assert.match(String(lines[0]!.reason), /no authorization rule/);
  });

  test("lines are rate-limited; the next line counts those left out", async () => {
    const { log, lines } = capturingLogger();
    let now = 0;
    const feature = authorization(CONFIG, { now: () => now }, log);
    const refused = { ...joinGroup, groupId: "tenant-b.group" };
    for (let i = 0; i < 25; i++)
      await send(feature, "alice", ApiKey.JoinGroup, latest(ApiKey.JoinGroup), refused);
    await flushed();
    assert.equal(lines.length, 10);
    now += 60_000;
    await send(feature, "alice", ApiKey.JoinGroup, latest(ApiKey.JoinGroup), refused);
    await flushed();
    assert.equal(lines.length, 11);
    assert.equal(lines[10]!.unloggedRefusals, 15);
  });
});

describe("every API, every version", () => {
  test("every API whose table names a resource other than the cluster has its own authorizer or entity fields", async () => {
    const { authorizerOf } = await import("../../../../src/features/authorization/index.ts");
    const { everyNamedEntity } = await import("../../../../src/features/authorization/named-entities.ts");
    const generic = everyNamedEntity(ApiKey.JoinGroup, {}).toString();
    for (const [key, required] of Object.entries(REQUIRED_OPERATIONS)) {
      const apiKey = Number(key) as ApiKey;
      if (authorizerOf(apiKey).toString() !== generic) continue;
      for (const resource of Object.keys(required)) {
        if (resource === "cluster") continue;
        const entity = ENTITY_TYPE_OF[resource as keyof typeof ENTITY_TYPE_OF] as EntityType;
        assert.ok(requestEntityPaths(apiKey, entity).length > 0, `${apiName(apiKey)} names no ${resource}`);
      }
    }
  });

  test("a principal allowed everything by rules has every mapped request passed on, and a well-formed answer", async () => {
    const everything = ["topic", "group", "transactional_id", "cluster"].map((resource) => ({
      effect: "allow",
      resource,
      pattern: "*",
      operations: ["all"],
    }));
    const feature = authorization(
      { principals: { root: { rules: everything } } },
      { topics: { nameOf: () => "t" } },
    );
    for (const apiKey of HANDLED) {
      const mapped = (REQUIRED_OPERATIONS as Record<number, unknown>)[apiKey] !== undefined;
      for (const version of versionsOf(apiKey)) {
        for (let seed = 0; seed < SEEDS; seed++) {
          const where = `${apiName(apiKey)} v${version} seed ${seed}`;
          const request = randomRequest(apiKey, version, seed);
          const { calls } = await send(feature, "root", apiKey, version, request, randomAnswer).catch(
            (error) => {
              throw new Error(`${where}: ${error.message}`);
            },
          );
          assert.equal(calls.length > 0, mapped, where);
        }
      }
    }
  });

  test("a principal with no rights gets a well-formed answer, and the broker is asked about nothing it names", async () => {
    const feature = authorization({ principals: { nobody: { rules: [] } } });
    for (const apiKey of HANDLED) {
      for (const version of versionsOf(apiKey)) {
        for (let seed = 0; seed < SEEDS; seed++) {
          const request = randomRequest(apiKey, version, seed);
          const where = `${apiName(apiKey)} v${version} seed ${seed}`;
          const { calls } = await send(feature, "nobody", apiKey, version, request, randomAnswer).catch(
            (error) => {
              throw new Error(`${where}: ${error.message}`);
            },
          );
          for (const call of calls) {
            const sent =
              call.apiKey === ApiKey.Fetch ? { ...call.request, forgottenTopicsData: [] } : call.request;
            const listing = call.apiKey === ApiKey.DescribeTopicPartitions && sent.topics.length === 0;
            for (const entity of ["topicName", "groupId", "transactionalId"] as const) {
              const named = requestEntities(call.apiKey, call.apiVersion, sent, entity).filter(
                (name) => name !== "",
              );
              if (listing && entity === "topicName") continue;
              assert.deepEqual(named, [], `${where}: the broker was asked about ${entity}s`);
            }
          }
        }
      }
    }
  });
});

test("reloaded rules apply to the requests that follow", async () => {
  const feature = createAuthorization(parseAuthorization(CONFIG), silentLogger);
  const carolJoins = () =>
    send(feature, "carol", ApiKey.JoinGroup, latest(ApiKey.JoinGroup), joinGroup, () => ({
      errorCode: ErrorCode.NONE,
      generationId: 1,
      protocolType: "consumer",
      protocolName: "range",
      leader: "m",
      skipAssignment: false,
      memberId: "m",
      members: [],
      throttleTimeMs: 0,
    }));
  assert.equal((await carolJoins()).response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  const carol = {
    rules: [
      {
        effect: "allow",
        resource: "group",
        pattern: "tenant-a.",
        pattern_type: "prefixed",
        operations: ["read"],
      },
    ],
  };
  feature.update(parseAuthorization({ ...CONFIG, principals: { ...CONFIG.principals, carol } }));
  assert.equal((await carolJoins()).response!.errorCode, ErrorCode.NONE);
});
