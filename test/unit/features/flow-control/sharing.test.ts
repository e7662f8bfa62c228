import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { QuotaSharingExchange, type UsageReport } from "../../../../src/features/flow-control/sharing.ts";
import { silentLogger } from "../../../../src/log/logger.ts";

const LIMIT = 1000;
const KEY = "produce topic:t";

/** An exchange of this instance with one peer that answered `peer`, as of now. */
function withPeer(local: UsageReport | undefined, peer: UsageReport | undefined): QuotaSharingExchange {
  const exchange = new QuotaSharingExchange(
    { peers: ["http://peer"], instances: 2, exchangeIntervalMs: 1000 },
    silentLogger,
  );
  if (local) exchange.publish(local);
  if (peer) {
    (exchange as unknown as { peers: Map<string, unknown> }).peers.set("http://peer", {
      usage: peer,
      receivedMs: Date.now(),
    });
  }
  return exchange;
}

describe("quota sharing among instances", () => {
  test("alone, an instance takes the whole limit", () => {
    const alone = new QuotaSharingExchange(
      { peers: [], instances: 1, exchangeIntervalMs: 1000 },
      silentLogger,
    );
    assert.equal(alone.shareOf(KEY, LIMIT), 1);
  });

  test("with a peer unreachable, it takes the equal share (fail closed)", () => {
    assert.equal(withPeer({ [KEY]: { rate: 900, throttled: true } }, undefined).shareOf(KEY, LIMIT), 0.5);
  });

  test("two throttled instances split the limit equally, whatever they used", () => {
    const mine = withPeer(
      { [KEY]: { rate: 900, throttled: true } },
      { [KEY]: { rate: 100, throttled: true } },
    );
    const theirs = withPeer(
      { [KEY]: { rate: 100, throttled: true } },
      { [KEY]: { rate: 900, throttled: true } },
    );
    assert.equal(mine.shareOf(KEY, LIMIT), 0.5);
    assert.equal(theirs.shareOf(KEY, LIMIT), 0.5);
  });

  test("an idle peer keeps a little; the busy one gets the rest; together the limit", () => {
    const busy = withPeer({ [KEY]: { rate: 500, throttled: true } }, {});
    const idle = withPeer({}, { [KEY]: { rate: 500, throttled: true } });
    const sum = busy.shareOf(KEY, LIMIT) + idle.shareOf(KEY, LIMIT);
    assert.ok(busy.shareOf(KEY, LIMIT) >= 0.9, String(busy.shareOf(KEY, LIMIT)));
    assert.ok(Math.abs(sum - 1) < 1e-9, `shares add up to ${sum}`);
  });

  test("a peer using little without throttling keeps its use plus headroom", () => {
    const busy = withPeer(
      { [KEY]: { rate: 700, throttled: true } },
      { [KEY]: { rate: 200, throttled: false } },
    );
    const light = withPeer(
      { [KEY]: { rate: 200, throttled: false } },
      { [KEY]: { rate: 700, throttled: true } },
    );
    const sum = busy.shareOf(KEY, LIMIT) + light.shareOf(KEY, LIMIT);
    assert.ok(light.shareOf(KEY, LIMIT) >= 0.25, String(light.shareOf(KEY, LIMIT)));
    assert.ok(Math.abs(sum - 1) < 1e-9, `shares add up to ${sum}`);
  });
});
