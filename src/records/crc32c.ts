import { createRequire } from "node:module";

type Crc32cFunction = (data: Uint8Array, initial?: number) => number;

const CASTAGNOLI_REFLECTED = 0x82f63b78;

const SLICE_TABLES: Uint32Array[] = buildSliceTables();

function buildSliceTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const first = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI_REFLECTED : c >>> 1;
    first[n] = c >>> 0;
  }
  tables.push(first);
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1];
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) table[n] = (previous[n] >>> 8) ^ first[previous[n] & 0xff];
    tables.push(table);
  }
  return tables;
}

/** Pure-JS CRC-32C (slice-by-8). `initial` continues a previous result, as the native one does. */
export function crc32cJs(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = SLICE_TABLES;
  let crc = ~initial >>> 0;
  let i = 0;
  const length = data.length;
  const blockEnd = length - (length % 8);
  while (i < blockEnd) {
    const lo = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    crc =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
    i += 8;
  }
  while (i < length) crc = (crc >>> 8) ^ t0[(crc ^ data[i++]) & 0xff];
  return ~crc >>> 0;
}

function loadNative(): Crc32cFunction | null {
  if (process.env.KPP_CRC32C_IMPL === "js") return null;
  try {
    const native = createRequire(import.meta.url)("@node-rs/crc32") as {
      crc32c(input: Uint8Array, initial?: number): number;
    };
    const probe = native.crc32c(Buffer.from("123456789"));
    if (probe >>> 0 !== 0xe3069283) return null;
    return (data, initial = 0) => native.crc32c(data, initial) >>> 0;
  } catch {
    return null;
  }
}

const nativeCrc32c = loadNative();

/** Which implementation `crc32c` uses: the native SIMD one when it loads, else the JS table one. */
export const crc32cImplementation: "native" | "js" = nativeCrc32c ? "native" : "js";

/** CRC-32C (Castagnoli) as an unsigned 32-bit number. */
export const crc32c: Crc32cFunction = nativeCrc32c ?? crc32cJs;
