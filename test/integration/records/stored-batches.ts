import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeRecords,
  type KafkaRecord,
  type RecordBatchView,
  splitBatches,
} from "../../../src/records/index.ts";

/** Every batch of a partition exactly as the broker stored it in its log segments. */
export function storedBatches(clusterDir: string, topic: string, partition = 0): RecordBatchView[] {
  const partitionDirs = findPartitionDirs(clusterDir, `${topic}-${partition}`);
  if (partitionDirs.length !== 1) {
    throw new Error(
      `expected one log dir for ${topic}-${partition} under ${clusterDir}, found ${partitionDirs.length}`,
    );
  }
  const batches: RecordBatchView[] = [];
  const segments = readdirSync(partitionDirs[0])
    .filter((name) => name.endsWith(".log"))
    .sort();
  for (const segment of segments) {
    const split = splitBatches(readFileSync(join(partitionDirs[0], segment)));
    if (split.hasLegacy) throw new Error(`${segment} holds legacy message sets`);
    if (split.trailingPartial)
      throw new Error(`${segment} ends with ${split.trailingPartial.length} stray bytes`);
    batches.push(...split.batches);
  }
  return batches;
}

function findPartitionDirs(root: string, name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name === name) found.push(path);
      else if (depth < 4) walk(path, depth + 1);
    }
  };
  walk(root, 0);
  return found;
}

export interface StoredRecord {
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

export function asText(record: KafkaRecord): StoredRecord {
  return {
    key: record.key?.toString("utf8") ?? null,
    value: record.value?.toString("utf8") ?? null,
    headers: record.headers.map((header) => [header.key, header.value?.toString("utf8") ?? null]),
  };
}

/** All data records of the batches (control batches skipped), with their absolute offsets checked. */
export function storedRecords(batches: readonly RecordBatchView[]): StoredRecord[] {
  const records: StoredRecord[] = [];
  let expectedOffset = 0n;
  for (const batch of batches) {
    if (!batch.isValidCrc()) throw new Error(`${batch.path}: crc mismatch`);
    if (batch.isControl) continue;
    for (const record of decodeRecords(batch)) {
      const offset = batch.baseOffset + BigInt(record.offsetDelta);
      if (offset !== expectedOffset)
        throw new Error(`record at offset ${offset}, expected ${expectedOffset}`);
      expectedOffset++;
      records.push(asText(record));
    }
  }
  return records;
}
