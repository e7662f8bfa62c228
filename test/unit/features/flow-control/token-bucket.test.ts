import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TokenBucket } from "../../../../src/features/flow-control/token-bucket.ts";

describe("token bucket", () => {
  test("a burst passes, then the debt is the throttle at the rate", () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    assert.equal(bucket.take(1000, 0), 0);
    assert.equal(bucket.take(500, 0), 500);
    assert.equal(bucket.debtMs(250), 250);
    assert.equal(bucket.debtMs(500), 0);
  });

  test("a client waiting out its throttle by itself, after the proxy did, is not slowed twice", () => {
    // Send 100 bytes each time the previous throttle is over, then wait as long again (a KIP-219 client whose
    // response was also delayed): over 10 s the bucket lets the rate through, never less.
    const rate = 1000;
    const bucket = new TokenBucket(rate, rate, 0);
    let now = 0;
    let sent = 0;
    while (now < 10_000) {
      const throttle = bucket.take(100, now);
      sent += 100;
      now += Math.max(1, 2 * throttle);
    }
    const achieved = (sent * 1000) / now;
    assert.ok(achieved >= rate * 0.95 && achieved <= rate * 1.15, `achieved ${achieved} B/s`);
  });

  test("pipelined requests all pay: the total over a window is the rate plus the burst", () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    let now = 0;
    let sent = 0;
    let gate = 0;
    while (now < 20_000) {
      // Five requests in flight: each waits for the connection's gate only.
      for (let i = 0; i < 5; i++) {
        const throttle = bucket.take(200, now);
        sent += 200;
        gate = Math.max(gate, now + throttle);
      }
      now = Math.max(now + 1, gate);
    }
    assert.ok(sent <= 1000 * 20 + 1000 + 1000, `sent ${sent}`);
    assert.ok(sent >= 1000 * 20 * 0.95, `sent ${sent}`);
  });

  test("reshape keeps the budget, cut to the new burst", () => {
    const bucket = new TokenBucket(1000, 1000, 0);
    bucket.reshape(100, 100, 0);
    assert.equal(bucket.take(100, 0), 0);
    assert.equal(bucket.take(100, 0), 1000);
  });
});
