import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseQuotas, QuotasConfigError } from "../../../../src/features/flow-control/config.ts";

function problemsOf(raw: unknown): readonly string[] {
  try {
    parseQuotas(raw);
  } catch (error) {
    assert.ok(error instanceof QuotasConfigError);
    return error.problems;
  }
  assert.fail("the section was accepted");
}

describe("quotas config", () => {
  test("an absent section sets no quota", () => {
    const settings = parseQuotas(undefined);
    assert.equal(settings.topics.length, 0);
    assert.equal(settings.clients.size, 0);
  });

  test("topics are anchored regexes, clients are names; defaults are throttle mode and a 1 s burst", () => {
    const settings = parseQuotas({
      topics: { "orders-.*": { produce_bytes_per_second: 2_000_000 } },
      clients: { etl: { fetch_bytes_per_second: "1000" } },
    });
    assert.equal(settings.mode, "throttle");
    assert.equal(settings.burstSeconds, 1);
    const rule = settings.topics[0]!;
    assert.ok(rule.pattern.test("orders-eu"));
    assert.ok(!rule.pattern.test("x-orders-eu"), "anchored at the start");
    assert.ok(!rule.pattern.test("orders"), "anchored");
    assert.deepEqual(rule.rates, { produce: 2_000_000, fetch: undefined });
    assert.deepEqual(settings.clients.get("etl"), { produce: undefined, fetch: 1000 });
    assert.deepEqual(settings.sharing, { peers: [], instances: 1, exchangeIntervalMs: 1000 });
  });

  test("an invalid regex and a non-positive rate name their field paths", () => {
    const problems = problemsOf({
      topics: { "a(": { produce_bytes_per_second: 1 }, ok: { fetch_bytes_per_second: 0 } },
      clients: { c: { produce_bytes_per_second: -5 } },
    });
    assert.ok(
      problems.some((p) => p.startsWith("quotas.topics.a(: invalid regular expression")),
      String(problems),
    );
    assert.ok(
      problems.some((p) => p.startsWith("quotas.topics.ok.fetch_bytes_per_second: must be a positive")),
    );
    assert.ok(
      problems.some((p) => p.startsWith("quotas.clients.c.produce_bytes_per_second: must be a positive")),
    );
  });

  test("a rule without any rate, an unknown mode and a bad peer are refused", () => {
    const problems = problemsOf({
      mode: "drop",
      topics: { t: {} },
      sharing: { peers: ["not a url"] },
    });
    assert.ok(
      problems.some((p) => p.startsWith("quotas.mode:")),
      String(problems),
    );
    assert.ok(problems.some((p) => p.startsWith("quotas.topics.t: set produce_bytes_per_second")));
    assert.ok(problems.some((p) => p.startsWith("quotas.sharing.peers[0]: must be an http(s) URL")));
  });

  test("fewer instances than this one and its peers are refused", () => {
    const problems = problemsOf({ sharing: { peers: ["http://10.0.0.2:9644"], instances: 1 } });
    assert.deepEqual(problems, ["quotas.sharing.instances: 1 is fewer than this instance and its 1 peer(s)"]);
  });

  test("instances default to this one and its peers", () => {
    const settings = parseQuotas({ sharing: { peers: ["http://10.0.0.2:9644/", "http://10.0.0.3:9644"] } });
    assert.deepEqual(settings.sharing.peers, ["http://10.0.0.2:9644", "http://10.0.0.3:9644"]);
    assert.equal(settings.sharing.instances, 3);
  });
});
