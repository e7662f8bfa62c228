import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";

export const KAFKA_CLIENTS_VERSION = "4.4.0";
const ARTIFACT = `org.apache.kafka:kafka-clients:${KAFKA_CLIENTS_VERSION}`;

export function cacheDir(): string {
  return join(homedir(), ".cache", "kafka-partition-proxy", "codegen");
}

/** Path of the kafka-clients jar, fetched from Maven Central with Maven when it is not cached yet. */
export function resolveKafkaClientsJar(): string {
  const dir = cacheDir();
  const jar = join(dir, `kafka-clients-${KAFKA_CLIENTS_VERSION}.jar`);
  if (existsSync(jar)) return jar;
  mkdirSync(dir, { recursive: true });
  execFileSync("mvn", ["-q", "dependency:copy", `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${dir}`], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (!existsSync(jar)) throw new Error(`Maven did not produce ${jar}`);
  return jar;
}

/** Reads the entries of a zip file whose names satisfy `wanted` (stored or deflated entries only). */
export function readZipEntries(path: string, wanted: (name: string) => boolean): Map<string, Buffer> {
  const zip = readFileSync(path);
  const eocd = findEndOfCentralDirectory(zip);
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry in ${path}`);
    const method = zip.readUInt16LE(p + 10);
    const compressedSize = zip.readUInt32LE(p + 20);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localHeader = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLength);
    p += 46 + nameLength + extraLength + commentLength;
    if (!wanted(name)) continue;
    const localNameLength = zip.readUInt16LE(localHeader + 26);
    const localExtraLength = zip.readUInt16LE(localHeader + 28);
    const dataStart = localHeader + 30 + localNameLength + localExtraLength;
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`unsupported zip method ${method} for ${name}`);
  }
  return out;
}

function findEndOfCentralDirectory(zip: Buffer): number {
  for (let p = zip.length - 22; p >= Math.max(0, zip.length - 65557); p--) {
    if (zip.readUInt32LE(p) === 0x06054b50) return p;
  }
  throw new Error("not a zip file: end of central directory not found");
}
