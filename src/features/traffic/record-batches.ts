/** Offsets within a record batch (magic 2) and a legacy message set entry (magic 0 and 1). */
const LENGTH_OFFSET = 8;
const MAGIC_OFFSET = 16;
const ATTRIBUTES_OFFSET = 21;
const CONTROL_FLAG = 0x20;
const RECORD_COUNT_OFFSET = 57;
const BATCH_HEADER_BYTES = 61;
const LOG_OVERHEAD_BYTES = 12;
const CURRENT_MAGIC = 2;

/** The complete batches' bytes and records of the last `countBatches` call (one object, reused). */
export const counted = { bytes: 0, records: 0 };

/**
 * Counts the complete record batches in `buf[start, end)` into `counted`, reading only their headers: bytes as on
 * the wire (header included), records from each batch's record count (a legacy message set entry counts as one,
 * compressed or not). Control batches (transaction markers, which clients skip) are not counted, nor is a batch cut
 * off at the end (a Fetch response may end in part of one).
 */
export function countBatches(buf: Buffer, start: number, end: number): typeof counted {
  let bytes = 0;
  let records = 0;
  let offset = start;
  while (offset + LOG_OVERHEAD_BYTES <= end) {
    const batchBytes = LOG_OVERHEAD_BYTES + buf.readInt32BE(offset + LENGTH_OFFSET);
    if (batchBytes <= LOG_OVERHEAD_BYTES || offset + batchBytes > end) break;
    if (buf[offset + MAGIC_OFFSET] === CURRENT_MAGIC) {
      if (batchBytes < BATCH_HEADER_BYTES) break;
      if ((buf.readInt16BE(offset + ATTRIBUTES_OFFSET) & CONTROL_FLAG) === 0) {
        records += buf.readInt32BE(offset + RECORD_COUNT_OFFSET);
        bytes += batchBytes;
      }
    } else {
      records++;
      bytes += batchBytes;
    }
    offset += batchBytes;
  }
  counted.bytes = bytes;
  counted.records = records;
  return counted;
}
