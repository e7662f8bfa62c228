/**
 * The fuzzer's inputs. Case `n` of a run is a pure function of the seed, `n` and the targets (topic names and
 * ids, ports): its own generator is seeded with (seed, n), so any case can be made again alone.
 *
 * Kinds, in a fixed rotation (SCHEDULE):
 *   bytes     random bytes, sometimes behind a plausible length, a TLS record or an HTTP verb
 *   length    length prefixes: tiny (shorter than a header), negative, beyond the maximum, lying (the frame
 *             never completes), and rarely a real frame of megabytes
 *   header    a valid request header for every api key and version of the generated tables in turn (and
 *             unknown keys, versions out of range), with a random, truncated, bit-flipped or stretched body
 *   valid     a valid random request (random-message.ts) of every api key and version in turn, sent intact:
 *             its response must come back with its correlation id and decode
 *   mutated   a valid random request mutated: bytes flipped, cut, extended, frames duplicated, correlation ids
 *             changed, header fields changed
 *   produce   Produce aimed at the virtualized (and plain) topics the fuzzer owns, with valid batches of every
 *             codec and corrupt ones: bad CRC, corrupt records behind a valid CRC, lying counts and lengths,
 *             unknown codecs, legacy magic, spoofed marker headers, a decompression bomb
 *   fetch     Fetch for the virtualized and plain topics (the client's too: reading is harmless), odd offsets,
 *             partitions, sizes and sessions
 *   aimed     random requests of every API that names topics or groups, pointed at the virtualized topics and
 *             the fuzzer's groups, so the proxy's interception decodes them
 *   session   a Fetch session: a full fetch, then incremental ones with right and wrong epochs and ids
 *   pipeline  several valid requests in one stream, correlation ids repeated or odd: responses in order
 *
 * Each byte stream is then sent whole, split at random boundaries with pauses, or byte by byte, and the
 * connection ends by lingering for responses, a half-close, a reset (often mid-frame) or an abrupt close.
 *
 * Requests that would change the shared broker in bulk are tamed (validateOnly set, auto-creation off, broker
 * ids made nonexistent), and only the fuzzer's own topics and groups are written to: the point is the proxy.
 */
import { crc32 } from "node:zlib";
import {
  API_KEYS,
  ApiKey,
  apiInfo,
  apiKeysNaming,
  firstVersion,
  hasField,
  REMOVED_API_KEYS,
  requestEntityPaths,
  requestHeaderVersion,
  ZERO_UUID,
} from "../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../src/protocol/frame.ts";
import type { FieldSchema, MessageSchema, VersionRange } from "../../src/protocol/schema-types.ts";
import {
  defaultValue,
  messageSchema,
  type Rng,
  randomMessage,
  seededRng,
} from "../../src/protocol/testing/random-message.ts";
import {
  BatchLayout,
  buildBatch,
  COMPRESSION_NAMES,
  crc32c,
  zstdAvailable,
} from "../../src/records/index.ts";
import type { TopicNames } from "./environment.ts";

export interface FuzzTargets {
  names: TopicNames;
  virtualPartitions: number;
  physicalPartitions: number;
  plainPartitions: number;
  topicIds: Record<string, string>;
  bootstrapPort: number;
  brokerPorts: number[];
  maxFrameBytes: number;
}

export type Ending = "linger" | "half-close" | "reset" | "destroy";

export interface Chunk {
  bytes: Buffer;
  /** Pause before writing it. */
  delayMs: number;
}

export interface ExpectedResponse {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
}

/** What a scripted case may do on its connection. */
export interface ScriptIo {
  /** Writes a frame (split and paced as the case says); false once the connection is gone. */
  send(frame: Buffer): Promise<boolean>;
  /** The next response frame (no length prefix), or undefined on close or timeout. */
  response(timeoutMs: number): Promise<Buffer | undefined>;
  /** Declares the response the frame just sent must get. */
  expect(expected: ExpectedResponse): void;
}

export interface FuzzCase {
  n: number;
  kind: Kind;
  /** What was made, in a few words ("Produce v9 -> kppv-attack-x: batch gzip, resign"). */
  detail: string;
  port: number;
  chunks: Chunk[];
  /** Frames (whole, cut or garbage) in the byte stream. */
  frames: number;
  ending: Ending;
  /** How long to wait for responses (or for the proxy to close) before ending. */
  lingerMs: number;
  /** Responses the proxy owes, in order: each must carry its correlation id and decode. */
  expect?: ExpectedResponse[];
  /** "apiKey:version" of the request header sent (header and valid kinds), for coverage. */
  pair?: string;
  script?: (io: ScriptIo) => Promise<void>;
}

export const SCHEDULE = [
  "header",
  "valid",
  "bytes",
  "produce",
  "header",
  "mutated",
  "fetch",
  "aimed",
  "header",
  "valid",
  "length",
  "produce",
  "header",
  "mutated",
  "pipeline",
  "fetch",
  "header",
  "valid",
  "aimed",
  "session",
  "produce",
  "mutated",
  "bytes",
  "valid",
] as const;
export type Kind = (typeof SCHEDULE)[number];

/** Each slot's ordinal among the slots of its kind, and how many slots each kind has. */
const SLOT_ORDINAL: number[] = [];
const SLOTS_PER_KIND = new Map<Kind, number>();
for (const kind of SCHEDULE) {
  SLOT_ORDINAL.push(SLOTS_PER_KIND.get(kind) ?? 0);
  SLOTS_PER_KIND.set(kind, (SLOTS_PER_KIND.get(kind) ?? 0) + 1);
}

/** Every (api key, version) of the generated tables. */
export const PAIRS: readonly { apiKey: number; version: number }[] = API_KEYS.flatMap((api) =>
  Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => ({
    apiKey: api.apiKey,
    version: api.minVersion + i,
  })),
);

export const pairName = (apiKey: number, version: number) => `${apiKey}:${version}`;

/** The cases needed before every pair has had a header case and a valid case. */
export function casesForFullCoverage(): number {
  const rounds = (kind: Kind) => Math.ceil(PAIRS.length / SLOTS_PER_KIND.get(kind)!);
  return Math.max(rounds("header"), rounds("valid")) * SCHEDULE.length;
}

function mix(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Small helpers over a seeded generator. */
class Dice {
  readonly rng: Rng;
  constructor(rng: Rng) {
    this.rng = rng;
  }
  chance(p: number): boolean {
    return this.rng() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)]!;
  }
  bytes(length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) b[i] = Math.floor(this.rng() * 256);
    return b;
  }
  int32(): number {
    return this.int(-0x80000000, 0x7fffffff);
  }
}

const INT32_MAX = 0x7fffffff;
const INT32_MIN = -0x80000000;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const HUGE_VARINT = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
const MARKER_HEADER = "__kpp_vp";

export function generateCase(seed: number, n: number, targets: FuzzTargets): FuzzCase {
  const slot = n % SCHEDULE.length;
  const kind = SCHEDULE[slot]!;
  const ordinal = Math.floor(n / SCHEDULE.length) * SLOTS_PER_KIND.get(kind)! + SLOT_ORDINAL[slot]!;
  const gen = new Generator(new Dice(seededRng(mix(seed, n))), targets, n, kind, ordinal);
  return gen.make();
}

interface Made {
  detail: string;
  stream: Buffer[];
  frames: number;
  expect?: ExpectedResponse[];
  pair?: string;
  /** Forces an ending (e.g. linger for expected responses). */
  ending?: Ending;
  lingerMs?: number;
  /** Keeps the stream in one write per frame instead of a random split. */
  wholeFrames?: boolean;
  script?: (io: ScriptIo) => Promise<void>;
}

interface Topic {
  name: string;
  id: string;
  virtual: boolean;
}

let bombCache: Buffer | undefined;

/** A gzip batch of one 20 MiB record of zeros: past the proxy's decompression bound, 20 KiB on the wire. */
function bombBatch(): Buffer {
  bombCache ??= buildBatch({
    compression: "gzip",
    baseTimestamp: 0,
    records: [{ key: Buffer.from("bomb"), value: Buffer.alloc(20 * 1024 * 1024) }],
  });
  return bombCache;
}

class Generator {
  readonly d: Dice;
  readonly t: FuzzTargets;
  readonly n: number;
  readonly kind: Kind;
  readonly ordinal: number;
  private correlation: number;

  constructor(d: Dice, t: FuzzTargets, n: number, kind: Kind, ordinal: number) {
    this.d = d;
    this.t = t;
    this.n = n;
    this.kind = kind;
    this.ordinal = ordinal;
    this.correlation = d.int(1, 1_000_000);
  }

  make(): FuzzCase {
    const d = this.d;
    const port = d.chance(0.4) ? this.t.bootstrapPort : d.pick(this.t.brokerPorts);
    const made = this.body();
    const expecting = made.expect !== undefined && made.expect.length > 0;
    const ending: Ending =
      made.ending ??
      (expecting
        ? d.pick(["linger", "linger", "linger", "linger", "half-close"] as const)
        : d.pick(["linger", "linger", "half-close", "reset", "reset", "destroy"] as const));
    let stream = Buffer.concat(made.stream);
    let cut = "";
    if (ending === "reset" && !expecting && stream.length > 1 && d.chance(0.6)) {
      // A case that stands for an api/version pair keeps its header whole: the proxy must see the pair.
      const at = d.int(made.pair ? Math.min(12, stream.length - 1) : 1, stream.length - 1);
      stream = stream.subarray(0, at);
      cut = ` (cut at byte ${at})`;
    }
    const chunks = made.script
      ? []
      : made.wholeFrames
        ? made.stream.map((bytes) => ({ bytes, delayMs: 0 }))
        : this.pace(stream);
    return {
      n: this.n,
      kind: this.kind,
      detail: made.detail + cut,
      port,
      chunks,
      frames: made.frames,
      ending,
      lingerMs: made.lingerMs ?? (expecting ? 3_000 : d.pick([0, 20, 50, 100, 300])),
      expect: made.expect,
      pair: made.pair,
      script: made.script,
    };
  }

  /** Splits a stream into writes: whole, at random boundaries with pauses, or slowly at the start. */
  pace(stream: Buffer): Chunk[] {
    const d = this.d;
    const r = d.rng();
    if (stream.length <= 1 || r < 0.55) return [{ bytes: stream, delayMs: 0 }];
    const chunks: Chunk[] = [];
    if (r < 0.85) {
      const cuts = new Set<number>();
      for (let k = d.int(1, 9); k > 0; k--) cuts.add(d.int(1, stream.length - 1));
      let from = 0;
      for (const at of [...cuts].sort((a, b) => a - b)) {
        chunks.push({ bytes: stream.subarray(from, at), delayMs: chunks.length === 0 ? 0 : d.int(0, 20) });
        from = at;
      }
      chunks.push({ bytes: stream.subarray(from), delayMs: d.int(0, 20) });
      return chunks;
    }
    const slow = Math.min(stream.length, r < 0.95 ? d.int(4, 24) : 64);
    for (let i = 0; i < slow; ) {
      const size = Math.min(d.int(1, 3), slow - i);
      chunks.push({ bytes: stream.subarray(i, i + size), delayMs: i === 0 ? 0 : d.int(1, 6) });
      i += size;
    }
    if (slow < stream.length) chunks.push({ bytes: stream.subarray(slow), delayMs: d.int(1, 10) });
    return chunks;
  }

  body(): Made {
    switch (this.kind) {
      case "bytes":
        return this.randomBytes();
      case "length":
        return this.lengths();
      case "header":
        return this.headerFuzz();
      case "valid":
        return this.validIntact();
      case "mutated":
        return this.mutatedValid();
      case "produce":
        return this.produce();
      case "fetch":
        return this.fetch();
      case "aimed":
        return this.aimed();
      case "session":
        return this.session();
      case "pipeline":
        return this.pipeline();
    }
  }

  // ---------------------------------------------------------------- framing

  nextCorrelationId(): number {
    const d = this.d;
    if (d.chance(0.9)) return this.correlation++;
    return d.pick([0, -1, INT32_MAX, INT32_MIN, this.correlation - 1, d.int32()]);
  }

  clientId(): Buffer | null {
    const d = this.d;
    const r = d.rng();
    if (r < 0.6) return Buffer.from("kpp-fuzz");
    if (r < 0.7) return null;
    if (r < 0.8) return Buffer.alloc(0);
    if (r < 0.88) return Buffer.from("é日本😀\u0000x");
    if (r < 0.94) return d.bytes(d.int(1, 40));
    return Buffer.alloc(d.int(200, 3000), 0x61);
  }

  /** A request header as Kafka writes it (written here, not by the codec under test). */
  header(apiKey: number, version: number, correlationId: number, clientId: Buffer | null): Buffer {
    let headerVersion: number;
    try {
      headerVersion = requestHeaderVersion(apiKey, version);
    } catch {
      headerVersion = this.d.chance(0.5) ? 1 : 2;
    }
    const parts: Buffer[] = [];
    const fixed = Buffer.alloc(8);
    fixed.writeInt16BE(apiKey, 0);
    fixed.writeInt16BE(version, 2);
    fixed.writeInt32BE(correlationId, 4);
    parts.push(fixed);
    if (headerVersion >= 1) {
      const length = Buffer.alloc(2);
      length.writeInt16BE(clientId === null ? -1 : clientId.length);
      parts.push(length);
      if (clientId) parts.push(clientId);
    }
    if (headerVersion === 2) parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
  }

  /** A length prefix and a payload; the prefix tells the truth unless `length` says otherwise. */
  frame(payload: Buffer, length = payload.length): Buffer {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(length | 0);
    return Buffer.concat([prefix, payload]);
  }

  /**
   * A valid random request of that api and version, encoded by the generated codec; undefined when the codec
   * cannot encode the random message.
   */
  encoded(
    apiKey: number,
    version: number,
    message: Record<string, unknown>,
    correlationId: number,
  ): Buffer | undefined {
    try {
      conform(messageSchema(apiKey, "request"), messageSchema(apiKey, "request").fields, message, version);
      return encodeRequest({ apiKey, apiVersion: version, correlationId, clientId: "kpp-fuzz" }, message);
    } catch {
      return undefined;
    }
  }

  randomValid(apiKey: number, version: number): Record<string, unknown> {
    const message = randomMessage(apiKey, "request", version, this.d.rng, { maxArrayLength: 3 });
    this.tame(apiKey, message, false);
    return message;
  }

  /**
   * Keeps random requests from changing the shared broker in bulk: validate-only where the API has the flag,
   * no topic auto-creation, broker ids no broker has (a combined broker and controller would act on them).
   */
  tame(apiKey: number, message: Record<string, unknown>, creating: boolean): void {
    for (const path of requestEntityPaths(apiKey, "brokerId")) {
      setAt(message, path, () => (this.d.chance(0.7) ? -1 : 999));
    }
    if (!creating) {
      if ("validateOnly" in message) message.validateOnly = true;
      if ("allowAutoTopicCreation" in message) message.allowAutoTopicCreation = false;
    }
  }

  // ---------------------------------------------------------------- mutation

  /** 1 to 4 edits of `b` at or after `from`: bit flips, odd bytes, huge lengths, cuts, stretches, repeats. */
  mutate(b: Buffer, from = 0): { bytes: Buffer; edits: string[] } {
    const d = this.d;
    let out = Buffer.from(b);
    const edits: string[] = [];
    for (let rounds = d.int(1, 4); rounds > 0; rounds--) {
      const span = out.length - from;
      const at = () => from + d.int(0, Math.max(0, span - 1));
      switch (d.int(0, 8)) {
        case 0:
          if (span > 0) {
            const i = at();
            out[i] ^= 1 << d.int(0, 7);
            edits.push(`flip@${i}`);
          }
          break;
        case 1:
          if (span > 0) {
            const i = at();
            out[i] = d.pick(INTERESTING_BYTES);
            edits.push(`byte@${i}`);
          }
          break;
        case 2:
          if (span >= 4) {
            const i = from + d.int(0, span - 4);
            out.writeInt32BE(d.pick([INT32_MAX, INT32_MIN, -1, 0x10000, 1 << 24]), i);
            edits.push(`int32@${i}`);
          }
          break;
        case 3: {
          const i = from + d.int(0, span);
          out = Buffer.concat([out.subarray(0, i), HUGE_VARINT, out.subarray(i)]);
          edits.push(`varint@${i}`);
          break;
        }
        case 4: {
          const i = from + d.int(0, span);
          out = out.subarray(0, i);
          edits.push(`cut@${i}`);
          break;
        }
        case 5: {
          const extra = d.bytes(d.int(1, 64));
          out = Buffer.concat([out, extra]);
          edits.push(`extend+${extra.length}`);
          break;
        }
        case 6: {
          const i = from + d.int(0, span);
          const j = i + d.int(0, out.length - i);
          out = Buffer.concat([out.subarray(0, j), out.subarray(i, j), out.subarray(j)]);
          edits.push(`repeat${i}-${j}`);
          break;
        }
        case 7: {
          const i = from + d.int(0, span);
          const j = i + d.int(0, Math.min(16, out.length - i));
          out = Buffer.concat([out.subarray(0, i), out.subarray(j)]);
          edits.push(`delete${i}-${j}`);
          break;
        }
        default: {
          const i = from + d.int(0, span);
          out = Buffer.concat([out.subarray(0, i), d.bytes(d.int(1, 8)), out.subarray(i)]);
          edits.push(`insert@${i}`);
        }
      }
    }
    return { bytes: out, edits };
  }

  // ---------------------------------------------------------------- kinds

  randomBytes(): Made {
    const d = this.d;
    const r = d.rng();
    const length = r < 0.3 ? d.int(1, 16) : r < 0.7 ? d.int(17, 512) : d.int(513, 16_384);
    const bytes = d.bytes(length);
    let detail = `${length} random bytes`;
    const shape = d.rng();
    if (shape < 0.25 && length >= 4) {
      bytes.writeInt32BE(length - 4, 0);
      detail += " behind their own length";
    } else if (shape < 0.3 && length >= 3) {
      bytes[0] = 0x16;
      bytes[1] = 0x03;
      bytes[2] = d.int(0, 4);
      detail += " as a TLS record";
    } else if (shape < 0.35 && length >= 4) {
      bytes.write(d.pick(["GET ", "POST", "PRI ", "HEAD"]), 0, "latin1");
      detail += " as an HTTP request";
    }
    return { detail, stream: [bytes], frames: 1 };
  }

  lengths(): Made {
    const d = this.d;
    const max = this.t.maxFrameBytes;
    const r = d.rng();
    if (r < 0.2) {
      const count = d.int(1, 50);
      const frames: Buffer[] = [];
      for (let i = 0; i < count; i++) frames.push(this.frame(d.bytes(d.int(0, 7))));
      return { detail: `${count} frames shorter than a request header`, stream: frames, frames: count };
    }
    if (r < 0.4) {
      const length = d.pick([-1, INT32_MIN, -d.int(2, 1 << 20), -8]);
      return {
        detail: `negative length ${length}`,
        stream: [this.frame(d.bytes(d.int(0, 64)), length)],
        frames: 1,
      };
    }
    if (r < 0.6) {
      const length = d.pick([max + 1, max * 2, INT32_MAX, max + d.int(2, 1 << 20)]);
      return {
        detail: `length ${length} beyond the maximum ${max}`,
        stream: [this.frame(d.bytes(d.int(0, 64)), length)],
        frames: 1,
      };
    }
    if (r < 0.97) {
      const length = d.pick([
        12,
        100,
        1000,
        2 * 1024 * 1024 - 1,
        2 * 1024 * 1024 + 1,
        max - 1,
        max,
        d.int(20, max),
      ]);
      const pair = d.pick(PAIRS);
      const start = Buffer.concat([
        this.header(pair.apiKey, pair.version, this.nextCorrelationId(), this.clientId()),
        d.bytes(d.int(0, 40)),
      ]);
      const sent = start.subarray(0, Math.min(start.length, Math.max(0, length - 1)));
      return {
        detail: `length ${length}, ${sent.length} bytes sent (api ${pair.apiKey} v${pair.version} header)`,
        stream: [this.frame(sent, length)],
        frames: 1,
        ending: d.pick(["linger", "half-close", "reset", "destroy"] as const),
        lingerMs: d.pick([50, 300, 1000]),
      };
    }
    return this.bigFrame();
  }

  /** A frame of megabytes, sent whole: Produce garbage, or a real big batch to a topic the fuzzer owns. */
  bigFrame(): Made {
    const d = this.d;
    const size = d.int(1, 3) * 1024 * 1024 + d.int(0, 1000);
    const info = apiInfo(ApiKey.Produce)!;
    const version = d.int(info.minVersion, info.maxVersion);
    if (d.chance(0.5)) {
      const payload = Buffer.concat([
        this.header(ApiKey.Produce, version, this.nextCorrelationId(), this.clientId()),
        Buffer.alloc(size, d.int(0, 255)),
      ]);
      return {
        detail: `Produce v${version} header and ${size} bytes of filler`,
        stream: [this.frame(payload)],
        frames: 1,
      };
    }
    const topic = d.chance(0.5)
      ? this.topic(this.t.names.attackVirtual)
      : this.topic(this.t.names.attackPlain);
    const records = buildBatch({
      compression: d.pick(["none", "lz4", "gzip"] as const),
      records: [{ key: Buffer.from("big"), value: Buffer.alloc(size, 0x62) }],
    });
    const correlationId = this.nextCorrelationId();
    const frame = this.encoded(
      ApiKey.Produce,
      version,
      this.produceBody(version, [{ topic, records }], 1),
      correlationId,
    );
    if (!frame) return this.randomBytes();
    return {
      detail: `Produce v${version} of a ${size}-byte record -> ${topic.name}`,
      stream: [frame],
      frames: 1,
      expect: [{ apiKey: ApiKey.Produce, apiVersion: version, correlationId }],
      ending: "linger",
      lingerMs: 15_000,
    };
  }

  headerFuzz(): Made {
    const d = this.d;
    const chosen = PAIRS[this.ordinal % PAIRS.length]!;
    const apiKey = chosen.apiKey;
    const version = chosen.version;
    const pair = pairName(apiKey, version);
    const header = this.header(apiKey, version, this.nextCorrelationId(), this.clientId());
    let body: Buffer;
    let how: string;
    const valid = this.encoded(apiKey, version, this.randomValid(apiKey, version), 1);
    const validBody = valid
      ? valid.subarray(4 + this.header(apiKey, version, 1, Buffer.from("kpp-fuzz")).length)
      : undefined;
    const r = d.rng();
    if (!validBody || r < 0.25) {
      body = d.bytes(d.pick([0, 1, 2, 4, d.int(5, 64), d.int(65, 1024)]));
      how = `${body.length} random body bytes`;
    } else if (r < 0.45) {
      body = validBody.subarray(0, d.int(0, Math.max(0, validBody.length - 1)));
      how = `valid body cut to ${body.length}/${validBody.length} bytes`;
    } else if (r < 0.7) {
      const flipped = Buffer.from(validBody);
      const flips = d.int(1, 8);
      for (let i = 0; i < flips && flipped.length > 0; i++)
        flipped[d.int(0, flipped.length - 1)] ^= 1 << d.int(0, 7);
      body = flipped;
      how = `valid body with ${flips} bit flip(s)`;
    } else if (r < 0.85) {
      const { bytes, edits } = this.mutate(validBody);
      body = bytes;
      how = `valid body edited (${edits.join(",")})`;
    } else {
      body = Buffer.concat([validBody, d.bytes(d.int(1, 32))]);
      how = "valid body with trailing bytes";
    }
    return {
      detail: `api ${apiKey} v${version} header, ${how}`,
      stream: [this.frame(Buffer.concat([header, body]))],
      frames: 1,
      pair,
    };
  }

  validIntact(): Made {
    const pair = PAIRS[this.ordinal % PAIRS.length]!;
    const correlationId = this.nextCorrelationId();
    let message = this.randomValid(pair.apiKey, pair.version);
    let frame = this.encoded(pair.apiKey, pair.version, message, correlationId);
    for (let attempt = 0; !frame && attempt < 5; attempt++) {
      message = this.randomValid(pair.apiKey, pair.version);
      frame = this.encoded(pair.apiKey, pair.version, message, correlationId);
    }
    if (!frame)
      return { detail: `api ${pair.apiKey} v${pair.version}: not encodable`, stream: [], frames: 0 };
    return {
      detail: `valid api ${pair.apiKey} v${pair.version}`,
      stream: [frame],
      frames: 1,
      expect: expectsResponse(pair.apiKey, message)
        ? [{ apiKey: pair.apiKey, apiVersion: pair.version, correlationId }]
        : [],
      pair: pairName(pair.apiKey, pair.version),
    };
  }

  mutatedValid(): Made {
    const d = this.d;
    const count = d.chance(0.75) ? 1 : d.int(2, 4);
    const frames: Buffer[] = [];
    const details: string[] = [];
    for (let i = 0; i < count; i++) {
      const pair = d.pick(PAIRS);
      const frame = this.encoded(
        pair.apiKey,
        pair.version,
        this.randomValid(pair.apiKey, pair.version),
        this.nextCorrelationId(),
      );
      if (!frame) continue;
      const [bytes, what] = this.mutateFrame(frame);
      frames.push(bytes);
      details.push(`api ${pair.apiKey} v${pair.version} ${what}`);
      if (d.chance(0.15)) {
        frames.push(bytes);
        details.push("(sent twice)");
      }
    }
    return { detail: `mutated: ${details.join("; ")}`, stream: frames, frames: frames.length };
  }

  /** An api key the codec does not know (removed, past the last, negative), or a known one at a version it lacks. */
  unknownApiOrVersion(apiKey: number): [number, number] {
    const d = this.d;
    const api = apiInfo(apiKey) ?? d.pick(API_KEYS);
    if (d.chance(0.5)) {
      const maxKey = Math.max(...API_KEYS.map((a) => a.apiKey));
      const unknown = [
        ...REMOVED_API_KEYS.map((k) => k.apiKey),
        maxKey + 1,
        maxKey + d.int(2, 500),
        -1,
        0x7fff,
      ];
      return [d.pick(unknown), d.int(0, 3)];
    }
    return [
      api.apiKey,
      d.pick([api.minVersion - 1, api.maxVersion + 1, api.maxVersion + d.int(2, 100), -1, 0x7fff]),
    ];
  }

  /** Mutates an encoded frame: body edits, header fields, correlation id, lying length. */
  mutateFrame(frame: Buffer): [Buffer, string] {
    const d = this.d;
    const payload = frame.subarray(4);
    const r = d.rng();
    let bytes: Buffer;
    let what: string;
    if (r < 0.55) {
      const { bytes: mutated, edits } = this.mutate(payload, Math.min(payload.length, 8));
      bytes = mutated;
      what = `body ${edits.join(",")}`;
    } else if (r < 0.7) {
      const { bytes: mutated, edits } = this.mutate(payload);
      bytes = mutated;
      what = `anywhere ${edits.join(",")}`;
    } else if (r < 0.8) {
      bytes = Buffer.from(payload);
      if (bytes.length >= 8) bytes.writeInt32BE(d.pick([0, -1, INT32_MAX, INT32_MIN, d.int32()]), 4);
      what = "correlation id changed";
    } else if (r < 0.85) {
      bytes = Buffer.from(payload);
      const [apiKey, version] = this.unknownApiOrVersion(bytes.length >= 2 ? bytes.readInt16BE(0) : 0);
      if (bytes.length >= 4) {
        bytes.writeInt16BE(apiKey, 0);
        bytes.writeInt16BE(version, 2);
      }
      what = `api key ${apiKey} version ${version} (unknown or out of range)`;
    } else if (r < 0.92) {
      bytes = Buffer.from(payload);
      if (bytes.length >= 4) {
        const api = apiInfo(bytes.readInt16BE(0));
        const version = api ? d.int(api.minVersion, api.maxVersion) : d.int(0, 20);
        bytes.writeInt16BE(version, 2);
        what = `version changed to ${version}`;
      } else what = "too short to change";
    } else {
      bytes = Buffer.from(payload);
      if (bytes.length >= 10) bytes.writeInt16BE(d.pick([INT32_MAX & 0x7fff, -2, bytes.length, 1000]), 8);
      what = "client id length changed";
    }
    if (d.chance(0.8)) return [this.frame(bytes), what];
    const length = d.pick([bytes.length + d.int(1, 100), Math.max(0, bytes.length - d.int(1, 20)), 0]);
    return [this.frame(bytes, length), `${what}, length ${length} for ${bytes.length} bytes`];
  }

  // ---------------------------------------------------------------- aimed at the virtualized topics

  topic(name: string): Topic {
    return { name, id: this.t.topicIds[name] ?? ZERO_UUID, virtual: name.startsWith("kppv-") };
  }

  /** A topic for an aimed request: the fuzzer's own, or (when reading) the client's too. */
  pickTopic(reading: boolean, creating = false): Topic {
    const d = this.d;
    const names = this.t.names;
    const r = d.rng();
    if (creating && r < 0.5) return this.topic(d.pick(names.newVirtual));
    if (r < 0.5) return this.topic(names.attackVirtual);
    if (r < 0.65) return this.topic(names.attackPlain);
    if (r < 0.75) return this.topic(d.pick(names.newVirtual));
    if (reading && r < 0.9) return this.topic(names.clientVirtual);
    if (reading) return this.topic(names.clientPlain);
    return this.topic(names.attackVirtual);
  }

  partition(topic: Topic): number {
    const d = this.d;
    const count = topic.virtual ? this.t.virtualPartitions : this.t.plainPartitions;
    if (d.chance(0.85)) return d.int(0, count - 1);
    return d.pick([-1, count, count + 1, this.t.physicalPartitions, INT32_MAX, INT32_MIN, d.int32()]);
  }

  topicId(topic: Topic): string {
    const d = this.d;
    if (d.chance(0.85)) return topic.id;
    return d.chance(0.5) ? ZERO_UUID : d.bytes(16).toString("hex");
  }

  /** A record batch for Produce: valid of any codec, or corrupt in one of many ways. */
  records(): { records: Buffer | null; how: string } {
    const d = this.d;
    const r = d.rng();
    if (r < 0.03) return { records: null, how: "null records" };
    if (r < 0.05) return { records: Buffer.alloc(0), how: "no records" };
    if (r < 0.06) return { records: bombBatch(), how: "gzip bomb (20 MiB)" };
    if (r < 0.09) return { records: this.legacyMessageSet(), how: "legacy message set" };
    const batches: Buffer[] = [];
    const hows: string[] = [];
    for (let k = d.chance(0.85) ? 1 : d.int(2, 3); k > 0; k--) {
      const [batch, how] = this.batch();
      if (d.chance(0.55)) {
        const [corrupt, what] = this.corruptBatch(batch);
        batches.push(corrupt);
        hows.push(`${how} ${what}`);
      } else {
        batches.push(batch);
        hows.push(how);
      }
    }
    if (d.chance(0.08)) {
      batches.push(d.bytes(d.int(1, 70)));
      hows.push("+garbage tail");
    }
    return { records: Buffer.concat(batches), how: hows.join(" | ") };
  }

  batch(): [Buffer, string] {
    const d = this.d;
    const codecs = COMPRESSION_NAMES.filter((c) => c !== "zstd" || zstdAvailable);
    const compression = d.pick(codecs);
    const count = d.chance(0.9) ? d.int(1, 5) : d.pick([0, 30]);
    const spoof = d.chance(0.25);
    const records = Array.from({ length: count }, (_, i) => ({
      offsetDelta: d.chance(0.9) ? i : i * d.int(1, 5),
      timestampDelta: d.chance(0.9) ? i : d.int(-1000, 1000),
      key: d.chance(0.2) ? undefined : d.bytes(d.int(0, 16)),
      value: d.chance(0.05) ? undefined : d.bytes(d.int(0, 200)),
      headers: [
        ...(spoof
          ? [
              {
                key: MARKER_HEADER,
                value: Buffer.from(d.pick(["0", "3", "-1", "99999999999", "", "x", "7 "])),
              },
            ]
          : []),
        ...Array.from({ length: d.int(0, 2) }, () => ({
          key: `h${d.int(0, 9)}`,
          value: d.bytes(d.int(0, 8)),
        })),
      ],
    }));
    const idempotent = d.chance(0.2);
    const batch = buildBatch({
      compression,
      records,
      baseOffset: d.chance(0.9) ? 0 : BigInt(d.int(0, 1 << 30)),
      baseTimestamp: d.chance(0.9) ? Date.now() : d.pick([-1, 0, Number.MAX_SAFE_INTEGER]),
      producerId: idempotent ? BigInt(d.int(0, 1 << 20)) : -1,
      producerEpoch: idempotent ? d.int(0, 5) : -1,
      baseSequence: idempotent ? d.int(0, 1000) : -1,
      isTransactional: d.chance(0.05),
      isControl: d.chance(0.02),
      partitionLeaderEpoch: d.chance(0.9) ? -1 : d.int(0, 100),
    });
    return [
      batch,
      `${compression} x${count}${spoof ? " spoofed-marker" : ""}${idempotent ? " idempotent" : ""}`,
    ];
  }

  corruptBatch(batch: Buffer): [Buffer, string] {
    const d = this.d;
    const b = Buffer.from(batch);
    const resign = () => b.writeUInt32BE(crc32c(b.subarray(BatchLayout.attributes)), BatchLayout.crc);
    switch (d.int(0, 8)) {
      case 0: {
        const i = d.int(BatchLayout.attributes, b.length - 1);
        b[i] ^= 1 << d.int(0, 7);
        return [b, `bad crc (flip@${i})`];
      }
      case 1: {
        const flips = d.int(1, 4);
        for (let i = 0; i < flips; i++) b[d.int(BatchLayout.attributes, b.length - 1)] ^= 1 << d.int(0, 7);
        resign();
        return [b, `${flips} flip(s) re-signed`];
      }
      case 2: {
        const count = d.pick([-1, 0, b.readInt32BE(BatchLayout.recordsCount) + 1, INT32_MAX, d.int32()]);
        b.writeInt32BE(count, BatchLayout.recordsCount);
        resign();
        return [b, `recordsCount ${count} re-signed`];
      }
      case 3: {
        const codec = d.int(5, 7);
        b.writeInt16BE((b.readInt16BE(BatchLayout.attributes) & ~0x07) | codec, BatchLayout.attributes);
        resign();
        return [b, `codec ${codec} re-signed`];
      }
      case 4: {
        const magic = d.pick([0, 1, 3, 255]);
        b[BatchLayout.magic] = magic;
        return [b, `magic ${magic}`];
      }
      case 5: {
        const length = d.pick([0, -1, b.readInt32BE(BatchLayout.batchLength) + d.int(1, 50), 10, INT32_MAX]);
        b.writeInt32BE(length, BatchLayout.batchLength);
        return [b, `batchLength ${length}`];
      }
      case 6: {
        const at = d.int(1, b.length - 1);
        return [b.subarray(0, at), `cut at ${at}/${b.length}`];
      }
      case 7: {
        const garbage = d.bytes(Math.max(1, b.length - BatchLayout.records));
        garbage.copy(b, BatchLayout.records);
        resign();
        return [b, "records garbage re-signed"];
      }
      default: {
        b.writeInt32BE(d.pick([-1, 0, 1000]), BatchLayout.lastOffsetDelta);
        resign();
        return [b, "lastOffsetDelta re-signed"];
      }
    }
  }

  /** A magic 0 or 1 message set of one message (zlib's CRC-32, as those magics use). */
  legacyMessageSet(): Buffer {
    const d = this.d;
    const magic = d.int(0, 1);
    const key = d.bytes(d.int(0, 8));
    const value = d.bytes(d.int(0, 64));
    const body = Buffer.alloc(2 + (magic === 1 ? 8 : 0) + 4 + key.length + 4 + value.length);
    let at = 0;
    body[at++] = magic;
    body[at++] = 0;
    if (magic === 1) {
      body.writeBigInt64BE(BigInt(Date.now()), at);
      at += 8;
    }
    body.writeInt32BE(key.length, at);
    key.copy(body, at + 4);
    at += 4 + key.length;
    body.writeInt32BE(value.length, at);
    value.copy(body, at + 4);
    const message = Buffer.alloc(12 + 4 + body.length);
    message.writeBigInt64BE(0n, 0);
    message.writeInt32BE(4 + body.length, 8);
    message.writeUInt32BE(crc32(body), 12);
    body.copy(message, 16);
    return message;
  }

  produceBody(
    version: number,
    parts: { topic: Topic; records: Buffer | null; partition?: number }[],
    acks: number,
  ): Record<string, unknown> {
    const d = this.d;
    const byTopic = new Map<
      string,
      { topic: Topic; partitionData: { index: number; records: Buffer | null }[] }
    >();
    for (const part of parts) {
      const entry = byTopic.get(part.topic.name) ?? { topic: part.topic, partitionData: [] };
      entry.partitionData.push({
        index: part.partition ?? this.partition(part.topic),
        records: part.records,
      });
      byTopic.set(part.topic.name, entry);
    }
    const usesIds = hasField("ProduceRequest", "topicData.topicId", version);
    return {
      transactionalId: d.chance(0.9) ? null : `kpp-fuzz-txn-${d.int(0, 2)}`,
      acks,
      timeoutMs: d.pick([0, 100, 1000, 5000, 30_000]),
      topicData: [...byTopic.values()].map(({ topic, partitionData }) => ({
        name: topic.name,
        topicId: usesIds ? this.topicId(topic) : ZERO_UUID,
        partitionData,
      })),
    };
  }

  produce(): Made {
    const d = this.d;
    const info = apiInfo(ApiKey.Produce)!;
    const version = d.int(info.minVersion, info.maxVersion);
    const parts: { topic: Topic; records: Buffer | null }[] = [];
    const hows: string[] = [];
    for (let k = d.chance(0.75) ? 1 : d.int(2, 4); k > 0; k--) {
      const r = d.rng();
      const topic =
        r < 0.65
          ? this.topic(this.t.names.attackVirtual)
          : r < 0.85
            ? this.topic(this.t.names.attackPlain)
            : r < 0.95
              ? this.topic(d.pick(this.t.names.newVirtual))
              : { name: "kppv-", id: d.bytes(16).toString("hex"), virtual: true };
      const { records, how } = this.records();
      parts.push({ topic, records });
      hows.push(`${topic.name}: ${how}`);
    }
    const acks = d.pick([-1, -1, -1, 1, 1, 0, 0, 2, -2, d.int(-32768, 32767)]);
    const correlationId = this.nextCorrelationId();
    const body = this.produceBody(version, parts, acks);
    const frame = this.encoded(ApiKey.Produce, version, body, correlationId);
    if (!frame) return { detail: "Produce: not encodable", stream: [], frames: 0 };
    const detail = `Produce v${version} acks=${acks} ${hows.join("; ")}`;
    if (d.chance(0.15)) {
      const [bytes, what] = this.mutateFrame(frame);
      return { detail: `${detail}; frame ${what}`, stream: [bytes], frames: 1 };
    }
    return {
      detail,
      stream: [frame],
      frames: 1,
      expect: acks === 0 ? [] : [{ apiKey: ApiKey.Produce, apiVersion: version, correlationId }],
    };
  }

  fetchBody(version: number, reading: Topic[]): Record<string, unknown> {
    const d = this.d;
    const message = randomMessage(ApiKey.Fetch, "request", version, d.rng, { maxArrayLength: 2 });
    this.tame(ApiKey.Fetch, message, false);
    message.clusterId = null;
    message.replicaId = -1;
    message.replicaState = { replicaId: -1, replicaEpoch: -1n };
    message.maxWaitMs = d.pick([0, 0, 50, 200, 1000]);
    message.minBytes = d.pick([0, 1, 1, 1000, 1 << 20]);
    message.maxBytes = d.pick([1 << 20, 1 << 20, 0, 1, 100, INT32_MAX, 64 << 20, -1]);
    message.isolationLevel = d.pick([0, 1, 0, d.int(-128, 127)]);
    message.sessionId = d.chance(0.85) ? 0 : d.int32();
    message.sessionEpoch = d.chance(0.85) ? -1 : d.pick([0, 1, d.int32()]);
    message.rackId = d.chance(0.9) ? "" : "rack-x";
    message.topics = reading.map((topic) => ({
      topic: topic.name,
      topicId: this.topicId(topic),
      partitions: Array.from({ length: d.int(1, 4) }, () => this.fetchPartition(topic)),
    }));
    message.forgottenTopicsData = d.chance(0.8)
      ? []
      : reading.map((topic) => ({
          topic: topic.name,
          topicId: this.topicId(topic),
          partitions: [this.partition(topic)],
        }));
    return message;
  }

  fetchPartition(topic: Topic, fetchOffset?: bigint): Record<string, unknown> {
    const d = this.d;
    return {
      partition: this.partition(topic),
      currentLeaderEpoch: d.pick([-1, -1, 0, d.int32()]),
      fetchOffset:
        fetchOffset ??
        d.pick([0n, 0n, 1n, BigInt(d.int(0, 500)), -1n, -2n, INT64_MAX, INT64_MIN, BigInt(d.int32())]),
      lastFetchedEpoch: d.pick([-1, -1, 0, d.int32()]),
      logStartOffset: -1n,
      partitionMaxBytes: d.pick([1 << 20, 1 << 20, 0, 1, 100, INT32_MAX, -1]),
      replicaDirectoryId: ZERO_UUID,
      highWatermark: INT64_MAX,
    };
  }

  fetch(): Made {
    const d = this.d;
    const info = apiInfo(ApiKey.Fetch)!;
    const version = d.int(info.minVersion, info.maxVersion);
    const reading = Array.from({ length: d.chance(0.7) ? 1 : d.int(2, 3) }, () => this.pickTopic(true));
    const correlationId = this.nextCorrelationId();
    const frame = this.encoded(ApiKey.Fetch, version, this.fetchBody(version, reading), correlationId);
    if (!frame) return { detail: "Fetch: not encodable", stream: [], frames: 0 };
    const detail = `Fetch v${version} ${reading.map((t) => t.name).join(",")}`;
    if (d.chance(0.15)) {
      const [bytes, what] = this.mutateFrame(frame);
      return { detail: `${detail}; frame ${what}`, stream: [bytes], frames: 1 };
    }
    return {
      detail,
      stream: [frame],
      frames: 1,
      expect: [{ apiKey: ApiKey.Fetch, apiVersion: version, correlationId }],
    };
  }

  /** A random request of an API that names topics or groups, its topics and groups replaced by the targets'. */
  aimedMessage(): { apiKey: number; version: number; message: Record<string, unknown>; named: string[] } {
    const d = this.d;
    const apiKey = d.pick(AIMED_APIS);
    const info = apiInfo(apiKey)!;
    const version = d.int(info.minVersion, info.maxVersion);
    const creating = apiKey === ApiKey.CreateTopics || apiKey === ApiKey.Metadata;
    const message = randomMessage(apiKey, "request", version, d.rng, { maxArrayLength: 3 });
    const named: string[] = [];
    this.aim(apiKey, message, READ_ONLY_APIS.has(apiKey), creating, named);
    this.tame(apiKey, message, creating);
    if (apiKey === ApiKey.CreateTopics) {
      for (const topic of (message.topics as Record<string, unknown>[]) ?? []) {
        topic.numPartitions = d.pick([
          -1,
          0,
          1,
          this.t.virtualPartitions,
          this.t.virtualPartitions - 1,
          2 * this.t.virtualPartitions,
        ]);
        topic.replicationFactor = d.pick([-1, 1, 0, 2]);
        if (d.chance(0.7)) topic.assignments = [];
      }
    }
    return { apiKey, version, message, named };
  }

  /** Points every topic name, topic id, partition and group of a random request at the targets. */
  aim(
    apiKey: number,
    message: Record<string, unknown>,
    reading: boolean,
    creating: boolean,
    named: string[],
  ): void {
    const topicPaths = new Set(requestEntityPaths(apiKey, "topicName"));
    const groupPaths = new Set(requestEntityPaths(apiKey, "groupId"));
    const visit = (node: unknown, path: string, context: Topic | undefined): void => {
      if (Array.isArray(node)) {
        for (const element of node) visit(element, path, context);
        return;
      }
      if (node === null || typeof node !== "object" || Buffer.isBuffer(node)) return;
      const object = node as Record<string, unknown>;
      let topic = context;
      for (const key of Object.keys(object)) {
        const childPath = path ? `${path}.${key}` : key;
        const value = object[key];
        if (topicPaths.has(childPath)) {
          if (typeof value === "string") {
            topic = this.pickTopic(reading, creating);
            object[key] = topic.name;
            named.push(topic.name);
          } else if (Array.isArray(value)) {
            object[key] = value.map(() => {
              const t = this.pickTopic(reading, creating);
              named.push(t.name);
              return t.name;
            });
          }
        } else if (groupPaths.has(childPath)) {
          if (typeof value === "string") object[key] = this.d.pick(this.t.names.attackGroups);
          else if (Array.isArray(value))
            object[key] = value.map(() => this.d.pick(this.t.names.attackGroups));
        }
      }
      for (const key of Object.keys(object)) {
        const value = object[key];
        if (topic && key === "topicId" && typeof value === "string") object[key] = this.topicId(topic);
        else if (topic && PARTITION_FIELDS.has(key) && typeof value === "number")
          object[key] = this.partition(topic);
        else if (topic && PARTITION_LISTS.has(key) && Array.isArray(value) && typeof value[0] === "number") {
          object[key] = value.map(() => this.partition(topic!));
        } else if (typeof value === "object" && value !== null) {
          visit(value, path ? `${path}.${key}` : key, topic);
        }
      }
    };
    visit(message, "", undefined);
  }

  aimed(): Made {
    const d = this.d;
    const { apiKey, version, message, named } = this.aimedMessage();
    const correlationId = this.nextCorrelationId();
    const frame = this.encoded(apiKey, version, message, correlationId);
    if (!frame) return { detail: `aimed api ${apiKey} v${version}: not encodable`, stream: [], frames: 0 };
    const detail = `aimed api ${apiKey} v${version} -> ${[...new Set(named)].join(",") || "(no topic)"}`;
    if (d.chance(0.4)) {
      const [bytes, what] = this.mutateFrame(frame);
      return { detail: `${detail}; frame ${what}`, stream: [bytes], frames: 1 };
    }
    return {
      detail,
      stream: [frame],
      frames: 1,
      expect: expectsResponse(apiKey, message) ? [{ apiKey, apiVersion: version, correlationId }] : [],
    };
  }

  pipeline(): Made {
    const d = this.d;
    const frames: Buffer[] = [];
    const expect: ExpectedResponse[] = [];
    const details: string[] = [];
    const repeated = d.chance(0.3) ? d.int32() : undefined;
    for (let k = d.int(2, 8); k > 0; k--) {
      const correlationId = repeated ?? this.nextCorrelationId();
      let apiKey: number;
      let version: number;
      let message: Record<string, unknown>;
      const r = d.rng();
      if (r < 0.3) {
        ({ apiKey, version, message } = this.aimedMessage());
      } else if (r < 0.45) {
        const info = apiInfo(ApiKey.Fetch)!;
        apiKey = ApiKey.Fetch;
        version = d.int(info.minVersion, info.maxVersion);
        message = this.fetchBody(version, [this.pickTopic(true)]);
        message.maxWaitMs = d.pick([0, 10, 100]);
      } else {
        const pair = d.pick(PAIRS);
        apiKey = pair.apiKey;
        version = pair.version;
        message = this.randomValid(apiKey, version);
      }
      const frame = this.encoded(apiKey, version, message, correlationId);
      if (!frame) continue;
      frames.push(frame);
      details.push(`${apiKey}v${version}#${correlationId}`);
      if (expectsResponse(apiKey, message)) expect.push({ apiKey, apiVersion: version, correlationId });
    }
    return {
      detail: `pipeline ${details.join(" ")}`,
      stream: frames,
      frames: frames.length,
      expect,
      ending: "linger",
      lingerMs: 5_000,
      wholeFrames: d.chance(0.3),
    };
  }

  /** A Fetch session on the virtualized topics: full fetch, then incremental ones, some with wrong ids or epochs. */
  session(): Made {
    const d = this.d;
    const info = apiInfo(ApiKey.Fetch)!;
    const lowest = Math.max(info.minVersion, firstVersion("FetchRequest", "sessionId"));
    const version = d.int(lowest, info.maxVersion);
    const reading = [this.topic(this.t.names.clientVirtual), this.topic(this.t.names.attackVirtual)];
    const rounds = d.int(1, 5);
    const plan = Array.from({ length: rounds }, () => ({
      wrongSession: d.chance(0.15),
      wrongEpoch: d.chance(0.15),
      add: d.chance(0.5),
      forget: d.chance(0.3),
      seed: d.int32(),
    }));
    const startBody = this.fetchBody(version, reading);
    startBody.sessionId = 0;
    startBody.sessionEpoch = 0;
    startBody.maxWaitMs = d.pick([0, 50]);
    startBody.forgottenTopicsData = [];
    const abandon = d.chance(0.2) ? d.int(0, rounds) : -1;
    const script = async (io: ScriptIo) => {
      let correlationId = this.correlation;
      const send = async (body: Record<string, unknown>) => {
        const id = correlationId++;
        const frame = this.encoded(ApiKey.Fetch, version, body, id);
        if (!frame) return false;
        io.expect({ apiKey: ApiKey.Fetch, apiVersion: version, correlationId: id });
        return io.send(frame);
      };
      if (!(await send(startBody))) return;
      let response = await io.response(5_000);
      for (let round = 0; round < rounds && response; round++) {
        if (round === abandon) return;
        const sessionId = sessionIdOf(response, version);
        const step = plan[round]!;
        const stepDice = new Dice(seededRng(step.seed));
        const body = this.fetchBody(
          version,
          step.add ? [this.topic(stepDice.pick(reading.map((t) => t.name)))] : [],
        );
        body.sessionId = step.wrongSession ? stepDice.int32() : sessionId;
        body.sessionEpoch = step.wrongEpoch ? stepDice.pick([0, -1, round + 5, INT32_MAX]) : round + 1;
        body.maxWaitMs = stepDice.pick([0, 50]);
        body.forgottenTopicsData = step.forget
          ? reading.map((t) => ({
              topic: t.name,
              topicId: t.id,
              partitions: [stepDice.int(0, this.t.virtualPartitions - 1)],
            }))
          : [];
        if (!(await send(body))) return;
        response = await io.response(5_000);
      }
    };
    return {
      detail: `Fetch v${version} session of ${rounds} incremental round(s)${abandon >= 0 ? `, abandoned after ${abandon}` : ""}`,
      stream: [],
      frames: rounds + 1,
      ending: d.pick(["linger", "linger", "reset", "destroy"] as const),
      lingerMs: 200,
      script,
    };
  }
}

/** The session id of a Fetch response frame (no length prefix); 0 when it does not decode. */
function sessionIdOf(frame: Buffer, version: number): number {
  try {
    return (decodeResponse(ApiKey.Fetch, version, frame).body as { sessionId: number }).sessionId;
  } catch {
    return 0;
  }
}

function expectsResponse(apiKey: number, message: Record<string, unknown>): boolean {
  return !(apiKey === ApiKey.Produce && message.acks === 0);
}

const PARTITION_FIELDS = new Set(["partition", "partitionIndex", "index"]);
const PARTITION_LISTS = new Set(["partitions", "partitionIndexes"]);

/** APIs whose requests name topics or groups, except DeleteTopics (the fuzzer's topics should stay). */
const AIMED_APIS: number[] = [...new Set([...apiKeysNaming("topicName"), ...apiKeysNaming("groupId")])]
  .filter((key) => key !== ApiKey.DeleteTopics && apiInfo(key) !== undefined)
  .sort((a, b) => a - b);

/** APIs that only read: they may name the client's topics too. */
const READ_ONLY_APIS = new Set<number>([
  ApiKey.Metadata,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.OffsetForLeaderEpoch,
  ApiKey.DescribeTopicPartitions,
  ApiKey.OffsetFetch,
  ApiKey.DescribeConfigs,
  ApiKey.DescribeProducers,
]);

function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

/**
 * Puts the default back into every field the version lacks (the encoder refuses other values there), through
 * nested structs and arrays of them: aimed and hand-set fields are set without looking at the version.
 */
function conform(
  schema: MessageSchema,
  fields: readonly FieldSchema[],
  object: Record<string, unknown>,
  version: number,
): void {
  for (const f of fields) {
    if (!inRange(f.versions, version)) {
      object[f.name] = defaultValue(schema, f);
      continue;
    }
    const struct = schema.structs[f.type.startsWith("[]") ? f.type.slice(2) : f.type];
    const value = object[f.name];
    if (!struct || value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const element of value) {
        if (element !== null && typeof element === "object") {
          conform(schema, struct.fields, element as Record<string, unknown>, version);
        }
      }
    } else conform(schema, struct.fields, value as Record<string, unknown>, version);
  }
}

/** Sets every value at a dotted path (through arrays at any step); an array at the end has each element set. */
function setAt(node: unknown, path: string, make: () => unknown): void {
  const steps = path.split(".");
  const walk = (value: unknown, at: number): void => {
    if (value === null || value === undefined || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const element of value) walk(element, at);
      return;
    }
    const object = value as Record<string, unknown>;
    const key = steps[at]!;
    if (!(key in object)) return;
    if (at === steps.length - 1) {
      const current = object[key];
      object[key] = Array.isArray(current) ? current.map(() => make()) : make();
    } else walk(object[key], at + 1);
  };
  walk(node, 0);
}
