// Differential check of malformed and non-canonical input against Kafka's Java classes.
//
//   npm run vectors:differential [-- --cases N] [--seed S] [--examples K] [--strict]
//
// Mutates the checked-in vectors (overwritten bytes, truncation, inserted bytes, copied spans), then
// gives each mutant to both kafka-clients (parse, require every byte consumed, serialize) and our codec
// (decode, require every byte consumed, encode). Reports how often the two disagree on accepting the
// input and, when both accept it, whether both serialize it to the same bytes. Some disagreements are by
// design (we reject invalid UTF-8 that Java replaces with U+FFFD), so the script only fails with --strict.
import { parseArgs } from "node:util";
import { KafkaProtocolError } from "../../src/protocol/errors.ts";
import { seededRng } from "../../src/protocol/testing/random-message.ts";
import { reencodeCase, TrailingBytesError } from "./codec.ts";
import { KAFKA_CLIENTS_VERSION, type RefereeCase, reserializeWithKafka } from "./java-referee.ts";
import { readVectors, vectorFilePath } from "./vector-file.ts";

const { values: options } = parseArgs({
  options: {
    cases: { type: "string", default: "20000" },
    seed: { type: "string", default: "1" },
    examples: { type: "string", default: "5" },
    strict: { type: "boolean", default: false },
  },
});

/** Outcome groups that are agreement, or deliberate differences from kafka-clients (with the reason). */
const ACCEPTED_DIFFERENCES = new Map<string, string>([
  ["both accept, same bytes", ""],
  ["both reject", ""],
  ["kafka accepts, we reject with INVALID_UTF8", "Java decodes malformed UTF-8 to U+FFFD; we refuse it"],
  [
    "kafka accepts, we reject with NEGATIVE_LENGTH",
    "Java reads any negative length as null; only -1 is null here",
  ],
  [
    "kafka accepts, we reject with TRUNCATED",
    "Java does not bound a known tagged field to its declared size; we do",
  ],
]);

type Outcome = { ok: true; hex: string } | { ok: false; error: string };

function ourReserialization(c: RefereeCase): Outcome {
  try {
    return { ok: true, hex: reencodeCase(c, Buffer.from(c.hex, "hex")).toString("hex") };
  } catch (error) {
    if (error instanceof KafkaProtocolError) return { ok: false, error: `${error.code}: ${error.message}` };
    if (error instanceof TrailingBytesError) return { ok: false, error: `TRAILING: ${error.message}` };
    return {
      ok: false,
      error: `NOT A KafkaProtocolError: ${error instanceof Error ? error.stack : String(error)}`,
    };
  }
}

function mutate(bytes: Buffer, rng: () => number): Buffer {
  const int = (n: number) => Math.floor(rng() * n);
  let out = Buffer.from(bytes);
  for (let n = 1 + int(2); n > 0; n--) {
    const at = int(out.length + 1);
    switch (int(4)) {
      case 0:
        if (out.length > 0) out[Math.min(at, out.length - 1)] = int(256);
        break;
      case 1:
        out = out.subarray(0, at);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), Buffer.from([int(256)]), out.subarray(at)]);
        break;
      default: {
        const from = int(out.length + 1);
        const span = out.subarray(from, from + 1 + int(8));
        out = Buffer.concat([out.subarray(0, at), span, out.subarray(at)]);
      }
    }
  }
  return out;
}

function label(c: RefereeCase): string {
  return c.kind.endsWith("Header") ? `${c.kind} v${c.version}` : `${c.kind} ${c.apiKey} v${c.version}`;
}

function main(): void {
  const vectors = readVectors(vectorFilePath(KAFKA_CLIENTS_VERSION));
  const rng = seededRng(Number(options.seed));
  const mutants: RefereeCase[] = [];
  for (let i = Number(options.cases); i > 0; i--) {
    const v = vectors[Math.floor(rng() * vectors.length)]!;
    mutants.push({ ...v, hex: mutate(Buffer.from(v.hex, "hex"), rng).toString("hex") });
  }
  const kafka = reserializeWithKafka(mutants);
  const groups = new Map<string, string[]>();
  const note = (group: string, example: string) => {
    const list = groups.get(group) ?? [];
    list.push(example);
    groups.set(group, list);
  };
  mutants.forEach((c, i) => {
    const theirs = kafka[i]!;
    const ours = ourReserialization(c);
    const where = `${label(c)} ${c.hex}`;
    if (!ours.ok && ours.error.startsWith("NOT A KafkaProtocolError"))
      note("our decoder crashed", `${where}\n    ${ours.error}`);
    else if (theirs.ok && ours.ok) {
      if (theirs.hex === ours.hex) note("both accept, same bytes", where);
      else note("both accept, different bytes", `${where}\n    ours  ${ours.hex}\n    kafka ${theirs.hex}`);
    } else if (theirs.ok && !ours.ok) {
      const code = ours.error.slice(0, ours.error.indexOf(":"));
      note(`kafka accepts, we reject with ${code}`, `${where}\n    ours: ${ours.error}`);
    } else if (!theirs.ok && ours.ok)
      note("we accept, kafka rejects", `${where}\n    kafka: ${theirs.error}`);
    else note("both reject", where);
  });
  const examples = Number(options.examples);
  for (const [group, list] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    const reason = ACCEPTED_DIFFERENCES.get(group);
    console.log(`${group}: ${list.length}${reason ? ` (by design: ${reason})` : ""}`);
    if (reason !== "") for (const example of list.slice(0, examples)) console.log(`  ${example}`);
  }
  const crashed = groups.has("our decoder crashed");
  const disagreed = [...groups.keys()].some((group) => !ACCEPTED_DIFFERENCES.has(group));
  if (crashed || (options.strict && disagreed)) process.exitCode = 1;
}

main();
