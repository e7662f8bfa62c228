/**
 * Socket-level fuzzing of the live proxy (see live-fuzz.ts): a 1-broker Kafka, the proxy with a virtualization
 * rule, a well-behaved KafkaJS client, and many short connections of random, broken and valid-but-odd input.
 * Prints a summary; exits 1 on a proxy crash or exit, an unresponsive proxy, a protocol violation or a client
 * error. The inputs are a function of the seed: case N of seed S is always the same bytes (given the same
 * topic ids).
 *
 * usage: npm run fuzz -- [--minutes N | --seconds N] [--seed S] [--workers W] [--rate R]
 *        npm run fuzz -- --seed S --replay N,M,...     (those cases alone, one at a time, on a fresh proxy)
 *        [--report FILE] writes the full report as JSON
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runLiveFuzz, summarize } from "./live-fuzz.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    seconds: { type: "string" },
    seed: { type: "string" },
    workers: { type: "string" },
    rate: { type: "string" },
    replay: { type: "string" },
    report: { type: "string" },
  },
});

const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? 1) * 60;
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_000;
if (!Number.isFinite(seconds) || seconds <= 0)
  throw new Error(`bad duration: ${values.minutes ?? values.seconds}`);
if (!Number.isInteger(seed)) throw new Error(`bad seed: ${values.seed}`);
const cases = values.replay?.split(",").map((n) => Number(n.trim()));
if (cases?.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`bad --replay list: ${values.replay}`);

const log = (line: string) => process.stderr.write(`${line}\n`);
log(
  cases
    ? `fuzz: replaying ${cases.length} case(s) of seed ${seed}`
    : `fuzz: ${seconds} s, seed ${seed} (rerun with --seed ${seed})`,
);
const report = await runLiveFuzz({
  durationMs: seconds * 1000,
  seed,
  workers: values.workers ? Number(values.workers) : undefined,
  clientRecordsPerSecond: values.rate ? Number(values.rate) : undefined,
  cases,
  log,
});
for (const line of summarize(report)) process.stdout.write(`${line}\n`);
if (values.report) writeFileSync(values.report, `${JSON.stringify(report, null, 1)}\n`);
process.exit(report.failures.length === 0 ? 0 : 1);
