import {
  buildBatch,
  COMPRESSION_NAMES,
  crc32c,
  crc32cJs,
  decodeRecords,
  RecordBatchView,
  rebuildBatch,
  setHeaderOnEveryRecord,
} from "../../src/records/index.ts";
import { sampleBatch, sampleRecords } from "./batches.ts";
import { benchMetrics, benchTrafficWalk } from "./metrics.ts";
import { benchProtocol } from "./protocol.ts";
import { measure, megabytesPerSecond, printTable } from "./timing.ts";

const TOTAL_BYTES = 1024 * 1024;
const RECORD_SIZE = 1024;
const budgetMs = Number(process.env.BENCH_BUDGET_MS ?? 1500);

function benchCrc(): void {
  const data = sampleBatch("none", TOTAL_BYTES, RECORD_SIZE);
  const rows = [
    [
      "native (@node-rs/crc32)",
      megabytesPerSecond(
        data.length,
        measure(() => crc32c(data), budgetMs),
      ),
    ],
    [
      "js slice-by-8",
      megabytesPerSecond(
        data.length,
        measure(() => crc32cJs(data), budgetMs),
      ),
    ],
  ];
  printTable("CRC-32C over a 1 MB batch", ["implementation", "MB/s"], rows);
}

function benchCodecs(): void {
  const rows: string[][] = [];
  const marker = Buffer.from([0, 0, 0, 7]);
  for (const codec of COMPRESSION_NAMES) {
    const batch = sampleBatch(codec, TOTAL_BYTES, RECORD_SIZE);
    const view = new RecordBatchView(batch);
    const records = sampleRecords(TOTAL_BYTES, RECORD_SIZE);
    const uncompressed = TOTAL_BYTES;
    const decodeMs = measure(() => decodeRecords(view), budgetMs);
    const buildMs = measure(() => buildBatch({ compression: codec, baseTimestamp: 0n, records }), budgetMs);
    const rebuildMs = measure(
      () =>
        rebuildBatch(view, (record) => ({
          ...record,
          headers: [...record.headers, { key: "__v", value: marker }],
        })),
      budgetMs,
    );
    const spliceMs = measure(() => setHeaderOnEveryRecord(view, { key: "__v", value: marker }), budgetMs);
    rows.push([
      codec,
      (batch.length / 1024).toFixed(0),
      megabytesPerSecond(uncompressed, decodeMs),
      megabytesPerSecond(uncompressed, buildMs),
      megabytesPerSecond(uncompressed, rebuildMs),
      (rebuildMs * 1000).toFixed(0),
      megabytesPerSecond(uncompressed, spliceMs),
      (spliceMs * 1000).toFixed(0),
    ]);
  }
  printTable(
    `Batch of ${TOTAL_BYTES / RECORD_SIZE} x ${RECORD_SIZE} B records (MB/s of uncompressed record data)`,
    [
      "codec",
      "batch KiB",
      "decode",
      "build",
      "rebuild +1 header",
      "rebuild µs/batch",
      "splice +1 header",
      "splice µs/batch",
    ],
    rows,
  );
}

console.log(`node ${process.versions.node}, best call of ${budgetMs} ms of calls per measurement`);
benchCrc();
benchCodecs();
await benchProtocol(TOTAL_BYTES, RECORD_SIZE, budgetMs);
benchMetrics(budgetMs);
benchTrafficWalk(budgetMs);
