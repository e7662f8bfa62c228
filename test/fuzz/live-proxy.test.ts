/**
 * The live proxy under socket-level fuzzing (scripts/fuzz/live-fuzz.ts, also `npm run fuzz`): a 1-broker Kafka,
 * the proxy with a virtualization rule, a well-behaved KafkaJS client producing and consuming a plain and a
 * virtualized topic through it, and short connections of random bytes, broken lengths, every api key and
 * version with broken bodies, mutated and valid requests, Produce and Fetch aimed at virtualized topics.
 *
 *   KPP_FUZZ_SECONDS  fuzzing time (default 75)
 *   KPP_FUZZ_SEED     the seed (default: from the clock; printed, and named in every failure)
 *   KPP_FUZZ_STRICT=1 also fails on proxy log lines that look like internal errors caught by a safety net
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runLiveFuzz, summarize } from "../../scripts/fuzz/live-fuzz.ts";

const SECONDS = Number(process.env.KPP_FUZZ_SECONDS ?? 75);
const SEED = Number(process.env.KPP_FUZZ_SEED ?? Date.now() % 1_000_000_000);
const STRICT = process.env.KPP_FUZZ_STRICT === "1";

test(`the proxy survives ${SECONDS} s of socket-level fuzzing and a well-behaved client loses nothing (seed ${SEED})`, {
  timeout: (SECONDS + 360) * 1000,
}, async (t) => {
  const report = await runLiveFuzz({
    durationMs: SECONDS * 1000,
    seed: SEED,
    log: (line) => process.stderr.write(`[fuzz] ${line}\n`),
  });
  const summary = summarize(report);
  for (const line of summary) t.diagnostic(line.split("\n")[0]!.slice(0, 1000));
  t.diagnostic(
    `frames sent ${report.framesSent}, connections ${report.connections}, closed by the proxy ${report.closedByProxy}, client records ${report.client.produced} produced / ${report.client.consumed} consumed`,
  );
  const explain = `seed ${SEED} (rerun: KPP_FUZZ_SEED=${SEED}, or npm run fuzz -- --seconds ${SECONDS} --seed ${SEED})\n${summary.join("\n")}`;

  assert.equal(report.crash, undefined, `the proxy crashed or hung under fuzzing: ${explain}`);
  assert.equal(report.proxy.exit, undefined, `the proxy exited during the run: ${explain}`);
  assert.equal(report.proxy.healthFailures, 0, `/healthz went unanswered: ${explain}`);
  assert.deepEqual(report.violations, [], `responses broke the protocol: ${explain}`);

  assert.ok(report.connections >= SECONDS, `the fuzzer made ${report.connections} connections: ${explain}`);
  assert.ok(
    report.framesSent > report.connections / 2,
    `the fuzzer sent ${report.framesSent} frames: ${explain}`,
  );
  assert.ok(report.closedByProxy > 0, `the proxy closed no connection of garbage: ${explain}`);
  for (const kind of [
    "bytes",
    "length",
    "header",
    "valid",
    "mutated",
    "produce",
    "fetch",
    "aimed",
    "session",
  ]) {
    assert.ok((report.byKind[kind]?.cases ?? 0) > 0, `no ${kind} case ran: ${explain}`);
  }
  if (report.cases >= report.coverage.casesNeeded) {
    assert.deepEqual(
      report.coverage.missingHeader,
      [],
      `api/version pairs never sent with a fuzzed body: ${explain}`,
    );
    assert.deepEqual(
      report.coverage.missingValid,
      [],
      `api/version pairs never sent as a valid request: ${explain}`,
    );
  } else {
    t.diagnostic(
      `coverage partial: ${report.cases} cases of the ${report.coverage.casesNeeded} that reach every api/version pair`,
    );
  }

  const client = report.client;
  assert.deepEqual(client.errors, [], `the well-behaved client saw errors: ${explain}`);
  assert.ok(client.produced > 0, `the well-behaved client produced nothing: ${explain}`);
  assert.equal(report.clientCaughtUp, true, `not every produced record was consumed: ${explain}`);
  assert.equal(client.consumed, client.produced, `records consumed != records produced: ${explain}`);
  for (const [topic, tally] of Object.entries(client.byTopic)) {
    assert.ok(tally.produced > 0, `nothing produced to ${topic}: ${explain}`);
    assert.equal(tally.consumed, tally.produced, `${topic}: consumed != produced: ${explain}`);
  }
  assert.equal(client.duplicates + client.outOfOrder + client.misrouted + client.lost, 0, explain);

  if (STRICT) {
    assert.deepEqual(
      report.proxy.internalErrors.map((f) => f.example),
      [],
      `the proxy logged internal errors: ${explain}`,
    );
  }
  assert.deepEqual(report.failures, [], explain);
});
