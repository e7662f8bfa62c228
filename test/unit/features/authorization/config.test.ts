import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AuthorizationConfigError,
  authorizationConfigSchema,
  DISABLED_AUTHORIZATION,
  parseAuthorization,
} from "../../../../src/features/authorization/index.ts";

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseAuthorization(raw);
  } catch (error) {
    assert.ok(error instanceof AuthorizationConfigError);
    return error.problems;
  }
  assert.fail("the config was accepted");
}

test("an absent section disables authorization; a present one enables it unless it says otherwise", () => {
  assert.equal(parseAuthorization(undefined), DISABLED_AUTHORIZATION);
  assert.equal(parseAuthorization({}).enabled, true);
  assert.equal(parseAuthorization({ enabled: false }).enabled, false);
  assert.equal(parseAuthorization({ enabled: "false" }).enabled, false, "booleans may come from ${ENV}");
});

test("defaults: anonymous clients refused, no super users, deny when no rule matches", () => {
  const settings = parseAuthorization({});
  assert.equal(settings.allowAnonymous, false);
  assert.deepEqual(settings.superUsers, []);
  assert.equal(settings.defaultEffect, "deny");
  assert.equal(settings.principals.size, 0);
});

test("rules are normalized: literal by default, cluster rules match the cluster, operations deduplicated", () => {
  const settings = parseAuthorization({
    enabled: true,
    allow_anonymous: true,
    super_users: ["admin", "admin"],
    default: "allow",
    principals: {
      alice: {
        confine_to_prefix: "tenant-a.",
        rules: [
          { effect: "allow", resource: "topic", pattern: "orders", operations: ["read", "read", "write"] },
          { effect: "deny", resource: "cluster", operations: ["alter"] },
        ],
      },
    },
  });
  assert.equal(settings.allowAnonymous, true);
  assert.deepEqual(settings.superUsers, ["admin"]);
  assert.equal(settings.defaultEffect, "allow");
  const alice = settings.principals.get("alice")!;
  assert.equal(alice.confineToPrefix, "tenant-a.");
  assert.deepEqual(alice.rules, [
    {
      effect: "allow",
      resource: "topic",
      pattern: "orders",
      patternType: "literal",
      operations: ["read", "write"],
    },
    { effect: "deny", resource: "cluster", pattern: "*", patternType: "literal", operations: ["alter"] },
  ]);
});

test("an unknown operation is named by its field path", () => {
  const problems = problemsOf({
    principals: {
      alice: {
        rules: [
          { effect: "allow", resource: "topic", pattern: "a", operations: ["read"] },
          { effect: "allow", resource: "topic", pattern: "a", operations: ["raed"] },
        ],
      },
    },
  });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^authorization\.principals\.alice\.rules\[1\]\.operations\[0\]: /);
});

test("an operation the resource type does not have is refused, naming those it has", () => {
  const problems = problemsOf({
    principals: {
      bob: {
        rules: [{ effect: "allow", resource: "group", pattern: "g", operations: ["describe", "write"] }],
      },
    },
  });
  assert.deepEqual(problems, [
    'authorization.principals.bob.rules[0].operations[1]: "write" is not an operation on group (one of: all, read, describe, delete, describe_configs, alter_configs)',
  ]);
});

test("every problem is listed, each with its path", () => {
  const problems = problemsOf({
    allow_anonymous: "sometimes",
    default: "maybe",
    surplus: 1,
    principals: {
      "*": { confine_to_prefix: "x.", rules: [] },
      carol: {
        rules: [
          { effect: "allow", resource: "topic", operations: ["read"] },
          { effect: "permit", resource: "queue", pattern: "q", operations: [] },
          { effect: "allow", resource: "cluster", pattern: "other-cluster", operations: ["alter"] },
        ],
      },
    },
  });
  const paths = problems.map((problem) => problem.slice(0, problem.indexOf(": ")));
  assert.deepEqual(paths.sort(), [
    "authorization",
    "authorization.allow_anonymous",
    "authorization.default",
    "authorization.principals.carol.rules[0].pattern",
    "authorization.principals.carol.rules[1].effect",
    "authorization.principals.carol.rules[1].operations",
    "authorization.principals.carol.rules[1].resource",
    "authorization.principals.carol.rules[2].pattern",
  ]);
  assert.ok(problems.some((problem) => problem.includes("surplus")));
});

test('confine_to_prefix belongs to one principal, not to "*"', () => {
  const problems = problemsOf({ principals: { "*": { confine_to_prefix: "x." } } });
  assert.deepEqual(
    problems.map((problem) => problem.slice(0, problem.indexOf(": "))),
    ["authorization.principals.*.confine_to_prefix"],
  );
});

test("the schema can be embedded in the proxy's config schema: its issues carry paths relative to the section", () => {
  const result = authorizationConfigSchema.safeParse({
    principals: { alice: { rules: [{ effect: "allow" }] } },
  });
  assert.equal(result.success, false);
  assert.ok(result.error!.issues.every((issue) => issue.path[0] === "principals"));
});

test("a custom root names the section where it sits", () => {
  assert.throws(
    () => parseAuthorization({ default: "maybe" }, "security.authorization"),
    (error: AuthorizationConfigError) => error.problems[0]!.startsWith("security.authorization.default: "),
  );
});
