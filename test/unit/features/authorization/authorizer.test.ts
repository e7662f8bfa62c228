import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Authorizer } from "../../../../src/features/authorization/authorizer.ts";
import { parseAuthorization } from "../../../../src/features/authorization/config.ts";
import { CLUSTER_NAME } from "../../../../src/features/authorization/operations.ts";

function authorizer(config: Record<string, unknown>, cacheSize?: number): Authorizer {
  return new Authorizer(parseAuthorization(config), cacheSize);
}

function rules(...list: Record<string, unknown>[]) {
  return { principals: { alice: { rules: list } } };
}

describe("patterns", () => {
  test("a literal pattern matches its name only", () => {
    const acl = authorizer(
      rules({ effect: "allow", resource: "topic", pattern: "orders", operations: ["read"] }),
    );
    assert.equal(acl.allowed("alice", "topic", "orders", "read"), true);
    assert.equal(acl.allowed("alice", "topic", "orders-2", "read"), false);
    assert.equal(acl.allowed("alice", "topic", "order", "read"), false);
  });

  test("a prefixed pattern matches every name starting with it", () => {
    const acl = authorizer(
      rules({
        effect: "allow",
        resource: "topic",
        pattern: "tenant-a.",
        pattern_type: "prefixed",
        operations: ["read"],
      }),
    );
    assert.equal(acl.allowed("alice", "topic", "tenant-a.orders", "read"), true);
    assert.equal(acl.allowed("alice", "topic", "tenant-a.", "read"), true);
    assert.equal(acl.allowed("alice", "topic", "tenant-b.orders", "read"), false);
  });

  test('a literal "*" matches every name; a prefixed "*" only names starting with "*"', () => {
    const everything = authorizer(
      rules({ effect: "allow", resource: "group", pattern: "*", operations: ["read"] }),
    );
    assert.equal(everything.allowed("alice", "group", "anything", "read"), true);
    const star = authorizer(
      rules({
        effect: "allow",
        resource: "group",
        pattern: "*",
        pattern_type: "prefixed",
        operations: ["read"],
      }),
    );
    assert.equal(star.allowed("alice", "group", "anything", "read"), false);
    assert.equal(star.allowed("alice", "group", "*x", "read"), true);
  });

  test("rules are per resource type", () => {
    const acl = authorizer(rules({ effect: "allow", resource: "topic", pattern: "*", operations: ["all"] }));
    assert.equal(acl.allowed("alice", "topic", "x", "read"), true);
    assert.equal(acl.allowed("alice", "group", "x", "read"), false);
    assert.equal(acl.allowed("alice", "transactional_id", "x", "write"), false);
  });
});

describe("operations", () => {
  test("a rule grants the operations it names, and all grants every one", () => {
    const acl = authorizer(
      rules(
        { effect: "allow", resource: "topic", pattern: "a", operations: ["write"] },
        { effect: "allow", resource: "topic", pattern: "b", operations: ["all"] },
      ),
    );
    assert.equal(acl.allowed("alice", "topic", "a", "write"), true);
    assert.equal(acl.allowed("alice", "topic", "a", "read"), false);
    assert.equal(acl.allowed("alice", "topic", "a", "create"), false);
    for (const operation of [
      "read",
      "write",
      "create",
      "delete",
      "alter",
      "describe",
      "alter_configs",
    ] as const) {
      assert.equal(acl.allowed("alice", "topic", "b", operation), true, operation);
    }
  });

  test("read, write, delete and alter imply describe; alter_configs implies describe_configs", () => {
    for (const operation of ["read", "write", "delete", "alter"]) {
      const acl = authorizer(
        rules({ effect: "allow", resource: "topic", pattern: "t", operations: [operation] }),
      );
      assert.equal(acl.allowed("alice", "topic", "t", "describe"), true, operation);
      assert.equal(acl.allowed("alice", "topic", "t", "describe_configs"), false, operation);
    }
    const create = authorizer(
      rules({ effect: "allow", resource: "topic", pattern: "t", operations: ["create"] }),
    );
    assert.equal(create.allowed("alice", "topic", "t", "describe"), false);
    const configs = authorizer(
      rules({ effect: "allow", resource: "topic", pattern: "t", operations: ["alter_configs"] }),
    );
    assert.equal(configs.allowed("alice", "topic", "t", "describe_configs"), true);
    assert.equal(configs.allowed("alice", "topic", "t", "describe"), false);
  });

  test("deny beats allow, whatever the order and the patterns", () => {
    const acl = authorizer(
      rules(
        { effect: "deny", resource: "topic", pattern: "tenant-a.secret", operations: ["read"] },
        { effect: "allow", resource: "topic", pattern: "*", operations: ["all"] },
        { effect: "allow", resource: "topic", pattern: "tenant-a.secret", operations: ["read"] },
      ),
    );
    assert.equal(acl.allowed("alice", "topic", "tenant-a.secret", "read"), false);
    assert.equal(acl.allowed("alice", "topic", "tenant-a.secret", "write"), true);
    assert.equal(acl.allowed("alice", "topic", "tenant-a.public", "read"), true);
  });

  test("implication is for allow rules only: denying read does not deny describe", () => {
    const acl = authorizer(
      rules(
        { effect: "allow", resource: "topic", pattern: "t", operations: ["all"] },
        { effect: "deny", resource: "topic", pattern: "t", operations: ["read"] },
      ),
    );
    assert.equal(acl.allowed("alice", "topic", "t", "read"), false);
    assert.equal(acl.allowed("alice", "topic", "t", "describe"), true);
  });

  test("a deny of all refuses every operation", () => {
    const acl = authorizer(
      rules(
        { effect: "allow", resource: "topic", pattern: "*", operations: ["all"] },
        {
          effect: "deny",
          resource: "topic",
          pattern: "private.",
          pattern_type: "prefixed",
          operations: ["all"],
        },
      ),
    );
    assert.equal(acl.allowed("alice", "topic", "private.x", "describe"), false);
    assert.equal(acl.allowed("alice", "topic", "public.x", "describe"), true);
  });
});

describe("principals", () => {
  test("super users may do everything, rules or not", () => {
    const acl = authorizer({
      super_users: ["admin"],
      principals: {
        "*": { rules: [{ effect: "deny", resource: "topic", pattern: "*", operations: ["all"] }] },
      },
    });
    assert.equal(acl.allowed("admin", "topic", "x", "delete"), true);
    assert.equal(acl.allowed("admin", "cluster", CLUSTER_NAME, "alter"), true);
    assert.equal(acl.needsChecks("admin"), false);
    assert.equal(acl.needsChecks("alice"), true);
    assert.equal(acl.needsChecks(undefined), true);
  });

  test('"*" rules apply to every principal, besides its own', () => {
    const acl = authorizer({
      principals: {
        "*": { rules: [{ effect: "allow", resource: "topic", pattern: "shared", operations: ["read"] }] },
        alice: { rules: [{ effect: "allow", resource: "topic", pattern: "mine", operations: ["read"] }] },
      },
    });
    assert.equal(acl.allowed("alice", "topic", "shared", "read"), true);
    assert.equal(acl.allowed("alice", "topic", "mine", "read"), true);
    assert.equal(acl.allowed("carol", "topic", "shared", "read"), true);
    assert.equal(acl.allowed("carol", "topic", "mine", "read"), false);
  });

  test("anonymous clients may do nothing unless allowed; then the ANONYMOUS rules apply", () => {
    const config = {
      default: "allow",
      principals: {
        ANONYMOUS: { rules: [{ effect: "deny", resource: "topic", pattern: "x", operations: ["read"] }] },
      },
    };
    const closed = authorizer(config);
    assert.equal(closed.admits(undefined), false);
    assert.equal(closed.allowed(undefined, "topic", "y", "read"), false);
    assert.equal(closed.allowedOnSome(undefined, "topic", "write"), false);
    const open = authorizer({ ...config, allow_anonymous: true });
    assert.equal(open.admits(undefined), true);
    assert.equal(open.allowed(undefined, "topic", "y", "read"), true);
    assert.equal(open.allowed(undefined, "topic", "x", "read"), false);
  });
});

describe("default", () => {
  test("deny: no matching rule, no access", () => {
    assert.equal(authorizer({}).allowed("alice", "topic", "x", "read"), false);
  });

  test("allow: a resource no rule of any principal matches is open to all; one with rules is not", () => {
    const acl = authorizer({
      default: "allow",
      principals: {
        bob: { rules: [{ effect: "allow", resource: "topic", pattern: "payments", operations: ["read"] }] },
      },
    });
    assert.equal(acl.allowed("alice", "topic", "unprotected", "write"), true);
    assert.equal(acl.allowed("alice", "topic", "payments", "read"), false, "bob's rule protects payments");
    assert.equal(acl.allowed("bob", "topic", "payments", "read"), true);
    assert.equal(acl.allowed("bob", "topic", "payments", "write"), false, "a rule for the resource exists");
  });
});

describe("confinement", () => {
  const acl = authorizer({
    principals: {
      "*": { rules: [{ effect: "allow", resource: "topic", pattern: "*", operations: ["all"] }] },
      alice: {
        confine_to_prefix: "tenant-a.",
        rules: [
          { effect: "allow", resource: "group", pattern: "*", operations: ["all"] },
          { effect: "allow", resource: "transactional_id", pattern: "*", operations: ["all"] },
          { effect: "allow", resource: "cluster", operations: ["describe"] },
        ],
      },
    },
  });

  test("topics, groups and transactional ids outside the prefix are refused whatever the rules", () => {
    assert.equal(acl.allowed("alice", "topic", "tenant-a.orders", "read"), true);
    assert.equal(acl.allowed("alice", "topic", "tenant-b.orders", "read"), false);
    assert.equal(acl.allowed("alice", "group", "tenant-a.g", "read"), true);
    assert.equal(acl.allowed("alice", "group", "other", "read"), false);
    assert.equal(acl.allowed("alice", "transactional_id", "other", "write"), false);
    assert.equal(acl.confinementOf("alice"), "tenant-a.");
  });

  test("the cluster is not confined; other principals are not", () => {
    assert.equal(acl.allowed("alice", "cluster", CLUSTER_NAME, "describe"), true);
    assert.equal(acl.allowed("carol", "topic", "tenant-b.orders", "read"), true);
    assert.equal(acl.confinementOf("carol"), undefined);
  });
});

describe("some resource of a type (InitProducerId's write on any topic)", () => {
  test("an allow rule naming the operation that no deny covers", () => {
    const prefixed = authorizer(
      rules({
        effect: "allow",
        resource: "topic",
        pattern: "a.",
        pattern_type: "prefixed",
        operations: ["write"],
      }),
    );
    assert.equal(prefixed.allowedOnSome("alice", "topic", "write"), true);
    assert.equal(prefixed.allowedOnSome("alice", "topic", "read"), false);
    const covered = authorizer(
      rules(
        {
          effect: "allow",
          resource: "topic",
          pattern: "a.b",
          pattern_type: "prefixed",
          operations: ["write"],
        },
        { effect: "deny", resource: "topic", pattern: "a.", pattern_type: "prefixed", operations: ["write"] },
      ),
    );
    assert.equal(covered.allowedOnSome("alice", "topic", "write"), false);
    const wildcardDeny = authorizer(
      rules(
        { effect: "allow", resource: "topic", pattern: "x", operations: ["write"] },
        { effect: "deny", resource: "topic", pattern: "*", operations: ["all"] },
      ),
    );
    assert.equal(wildcardDeny.allowedOnSome("alice", "topic", "write"), false);
  });

  test("only inside the prefix the principal is confined to", () => {
    const config = (pattern: string) => ({
      principals: {
        alice: {
          confine_to_prefix: "t.",
          rules: [{ effect: "allow", resource: "topic", pattern, operations: ["write"] }],
        },
      },
    });
    assert.equal(authorizer(config("other")).allowedOnSome("alice", "topic", "write"), false);
    assert.equal(authorizer(config("t.x")).allowedOnSome("alice", "topic", "write"), true);
    assert.equal(authorizer(config("*")).allowedOnSome("alice", "topic", "write"), true);
  });
});

test("authorized operations: the bit of each operation Kafka reports for the resource type", () => {
  const acl = authorizer(rules({ effect: "allow", resource: "group", pattern: "g", operations: ["read"] }));
  const READ_BIT = 1 << 3;
  const DESCRIBE_BIT = 1 << 8;
  assert.equal(acl.authorizedOperations("alice", "group", "g"), READ_BIT | DESCRIBE_BIT);
  assert.equal(acl.authorizedOperations("alice", "group", "other"), 0);
});

test("decisions are cached up to a bound, and stay right past it", () => {
  const acl = authorizer(
    rules({
      effect: "allow",
      resource: "topic",
      pattern: "t",
      pattern_type: "prefixed",
      operations: ["read"],
    }),
    4,
  );
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++) {
      assert.equal(acl.allowed("alice", "topic", `t${i}`, "read"), true);
      assert.equal(acl.allowed("alice", "topic", `u${i}`, "read"), false);
    }
  }
  const cache = (acl as unknown as { decisions: Map<string, boolean> }).decisions;
  assert.ok(cache.size <= 4, `cache holds ${cache.size}`);
});
