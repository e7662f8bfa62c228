/**
 * Tallied counters and histograms publish exactly what was counted, in the text prom-client's own metrics are
 * written in, whether counted before or between scrapes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { TalliedCounter, TalliedHistogram } from "../../../src/admin/tallies.ts";

const BOUNDS = [0.001, 0.01, 0.1, 1];

function seriesOf(text: string, name: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(name));
}

test("a tallied counter publishes each label set's total, a new one at 0, across scrapes", async () => {
  const registry = new Registry();
  const counter = new TalliedCounter(registry, "t_bytes_total", "bytes", ["topic", "cluster"]);
  const a = counter.tally("a", "east");
  counter.tally("b", "west");
  a.add(100);
  a.pending += 23;
  assert.deepEqual(seriesOf(await registry.metrics(), "t_bytes_total"), [
    't_bytes_total{topic="a",cluster="east"} 123',
    't_bytes_total{topic="b",cluster="west"} 0',
  ]);
  a.add(7);
  assert.equal(counter.tally("a", "east"), a, "one tally per label set");
  assert.deepEqual(seriesOf(await registry.metrics(), "t_bytes_total"), [
    't_bytes_total{topic="a",cluster="east"} 130',
    't_bytes_total{topic="b",cluster="west"} 0',
  ]);
});

test("an unlabelled tallied counter is one series", async () => {
  const registry = new Registry();
  const total = new TalliedCounter(registry, "t_total", "all").tally();
  total.add(5);
  assert.deepEqual(seriesOf(await registry.metrics(), "t_total"), ["t_total 5"]);
});

test("a tallied histogram writes what prom-client's Histogram writes for the same observations", async () => {
  const registry = new Registry();
  const tallied = new TalliedHistogram(registry, "t_seconds", "latency", ["api"], BOUNDS);
  const reference = new Histogram({
    name: "r_seconds",
    help: "latency",
    labelNames: ["api"],
    buckets: BOUNDS,
    registers: [registry],
  });
  const observations = [0.0005, 0.001, 0.002, 0.05, 0.5, 1, 7];
  const produce = tallied.tally("Produce");
  tallied.tally("Fetch");
  for (const seconds of observations) {
    produce.observe(seconds);
    reference.observe({ api: "Produce" }, seconds);
  }
  const text = await registry.metrics();
  const written = seriesOf(text, "t_seconds");
  assert.deepEqual(
    written,
    seriesOf(text, "r_seconds").map((line) => line.replace("r_seconds", "t_seconds")),
  );
  assert.ok(written.includes('t_seconds_bucket{le="0.001",api="Produce"} 2'), written.join("\n"));
  assert.ok(written.includes('t_seconds_bucket{le="+Inf",api="Produce"} 7'));
  assert.ok(!written.some((line) => line.includes("Fetch")), "a label set never observed is not published");
  assert.match(text, /# TYPE t_seconds histogram/);
});
