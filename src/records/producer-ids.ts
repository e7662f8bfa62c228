import { Attribute, BatchLayout, CURRENT_MAGIC, LOG_OVERHEAD } from "./batch-view.ts";
import { crc32c } from "./crc32c.ts";

/**
 * Whether some idempotent batch in `records` has a producer id whose top byte is not 0 (ids of 2^56 and above),
 * read from the batch headers without converting a single id.
 */
export function hasHighProducerIds(records: Buffer): boolean {
  let offset = 0;
  while (offset + BatchLayout.records <= records.length) {
    const size = LOG_OVERHEAD + records.readInt32BE(offset + BatchLayout.batchLength);
    if (size < BatchLayout.records || offset + size > records.length) return false;
    const topByte = records[offset + BatchLayout.producerId]!;
    if (topByte !== 0 && topByte < 0x80) return true;
    offset += size;
  }
  return false;
}

/**
 * Replaces the producer id of every idempotent batch in `records` (one or more magic v2 batches) in place, by
 * `map(producerId, transactional)` (undefined keeps it), and signs the batch again. A batch whose CRC is already
 * wrong is left as it is, so the broker still refuses it as corrupt; older magics and truncated bytes are left
 * alone too. Returns how many batches changed.
 */
export function remapProducerIds(
  records: Buffer,
  map: (producerId: bigint, transactional: boolean) => bigint | undefined,
): number {
  let changed = 0;
  let offset = 0;
  while (offset + BatchLayout.records <= records.length) {
    const size = LOG_OVERHEAD + records.readInt32BE(offset + BatchLayout.batchLength);
    if (size < BatchLayout.records || offset + size > records.length) break;
    if (records[offset + BatchLayout.magic] !== CURRENT_MAGIC) break;
    const producerId = records.readBigInt64BE(offset + BatchLayout.producerId);
    const transactional =
      (records.readInt16BE(offset + BatchLayout.attributes) & Attribute.transactional) !== 0;
    const mapped = producerId >= 0n ? map(producerId, transactional) : undefined;
    if (mapped !== undefined && mapped !== producerId) {
      const batch = records.subarray(offset, offset + size);
      const signed = batch.subarray(BatchLayout.attributes);
      if (crc32c(signed) === batch.readUInt32BE(BatchLayout.crc)) {
        batch.writeBigInt64BE(mapped, BatchLayout.producerId);
        batch.writeUInt32BE(crc32c(signed), BatchLayout.crc);
        changed++;
      }
    }
    offset += size;
  }
  return changed;
}
