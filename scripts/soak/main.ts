/**
 * Soak of the proxy (see soak.ts): steady mixed traffic through it, plain and virtualized, KafkaJS and Kafka's
 * Java perf tools, for the time given; prints the proxy's memory every few seconds, then the trend of the second
 * half. Exits 1 when RSS grows faster than the bound (fitted slope AND medians' rate, see soak.ts), or a record is lost or
 * duplicated, or the proxy dies.
 *
 * usage: npm run soak -- [--minutes N | --seconds N] [--sample-seconds S] [--rate R] [--perf-rate R]
 *        [--limit MB_PER_MIN] [--report FILE]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatSample, runSoak, SAMPLE_HEADER, summarizeSoak } from "./soak.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    seconds: { type: "string" },
    "sample-seconds": { type: "string" },
    rate: { type: "string" },
    "perf-rate": { type: "string" },
    limit: { type: "string" },
    seed: { type: "string" },
    report: { type: "string" },
  },
});
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? 5) * 60;
if (!Number.isFinite(seconds) || seconds <= 0)
  throw new Error(`bad duration: ${values.minutes ?? values.seconds}`);
const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));

const log = (line: string) => process.stderr.write(`${line}\n`);
log(`soak: ${seconds} s`);
const report = await runSoak({
  durationMs: seconds * 1000,
  sampleEveryMs: (number(values["sample-seconds"]) ?? 5) * 1000,
  clientRecordsPerSecond: number(values.rate),
  perfRecordsPerSecond: number(values["perf-rate"]),
  limitMbPerMin: number(values.limit),
  seed: number(values.seed),
  log,
});
process.stdout.write(`${SAMPLE_HEADER}\n`);
for (const sample of report.samples) process.stdout.write(`${formatSample(sample)}\n`);
for (const line of summarizeSoak(report)) process.stdout.write(`${line}\n`);
if (values.report) writeFileSync(values.report, `${JSON.stringify(report, null, 1)}\n`);
process.exit(report.failures.length === 0 ? 0 : 1);
