/** The records both real producers send, so their stored batches can be checked field by field. */
export interface SampleRecord {
  key: string | null;
  value: string;
  headers: [string, string | null][];
}

export function sampleRecord(index: number): SampleRecord {
  return {
    key: index % 7 === 3 ? null : `key-${index}`,
    value: `value-${index}-` + "lorem ipsum dolor sit amet ".repeat((index % 5) + 1) + "ü€",
    headers: [
      ["trace", `t${index}`],
      ["ключ", index % 2 === 0 ? "" : null],
    ],
  };
}

export function sampleRecords(count: number): SampleRecord[] {
  return Array.from({ length: count }, (_, index) => sampleRecord(index));
}

/** Marks null in ConsoleProducer input lines (its `null.marker` property). */
export const NULL_MARKER = "<null>";

/** One ConsoleProducer line: `headers \t key \t value`, headers as `k:v,k:v`. */
export function consoleProducerLine(record: SampleRecord): string {
  const headers = record.headers.map(([key, value]) => `${key}:${value ?? NULL_MARKER}`).join(",");
  return `${headers}\t${record.key ?? NULL_MARKER}\t${record.value}`;
}
