/**
 * The layers of the source tree (docs/architecture.md): which folders may import which, and no protocol number
 * typed by hand outside the generated code.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { API_KEYS, KAFKA_ERRORS } from "../../src/protocol/api.ts";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const GENERATED = path.join(SRC, "protocol", "generated");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (full !== GENERATED) out.push(...sourceFiles(full));
    } else if (entry.name.endsWith(".ts")) out.push(full);
  }
  return out;
}

const files = sourceFiles(SRC).map((file) => ({
  file: path.relative(SRC, file),
  text: readFileSync(file, "utf8"),
}));

/** The src-relative paths a file imports. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms)) {
    out.push(path.relative(SRC, path.resolve(SRC, path.dirname(file), match[1]!)));
  }
  return out;
}

function violations(from: (file: string) => boolean, to: (target: string) => boolean): string[] {
  const found: string[] = [];
  for (const { file, text } of files) {
    if (!from(file)) continue;
    for (const target of importsOf(file, text)) if (to(target)) found.push(`${file} -> ${target}`);
  }
  return found;
}

const featureOf = (file: string) => /^features\/([^/]+)\//.exec(file)?.[1];

test("the runtime imports no feature", () => {
  assert.deepEqual(
    violations(
      (file) => file.startsWith("proxy/"),
      (target) => target.startsWith("features/"),
    ),
    [],
  );
});

test("features import neither the runtime nor each other", () => {
  assert.deepEqual(
    violations(
      (file) => file.startsWith("features/"),
      (target) => target.startsWith("proxy/") || target === "composition.ts",
    ),
    [],
  );
  const crossing: string[] = [];
  for (const { file, text } of files) {
    const own = featureOf(file);
    if (!own) continue;
    for (const target of importsOf(file, text)) {
      const other = featureOf(target);
      if (other && other !== own) crossing.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(crossing, []);
});

test("the layers below the features import no feature, runtime or composition root", () => {
  const lower = ["protocol/", "records/", "net/", "topology/", "feature-api/"];
  assert.deepEqual(
    violations(
      (file) => lower.some((prefix) => file.startsWith(prefix)),
      (target) =>
        target.startsWith("features/") || target.startsWith("proxy/") || target === "composition.ts",
    ),
    [],
  );
});

const screaming = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
const PROTOCOL_NAMES = new Set([
  ...API_KEYS.map((api) => screaming(api.name)),
  ...KAFKA_ERRORS.map((error) => error.name),
]);

test("no hand-written file types an api key, an error code or a protocol version as a number", () => {
  const found: string[] = [];
  for (const { file, text } of files) {
    // Compression formats have versions of their own.
    if (file.startsWith("records/compression/")) continue;
    for (const match of text.matchAll(/\b(?:const|let)\s+([A-Z][A-Z0-9_]*)\s*=\s*-?\d+\s*;/g)) {
      const name = match[1]!;
      if (PROTOCOL_NAMES.has(name) || /_VERSION$/.test(name) || /^FIRST_.*VERSION/.test(name)) {
        found.push(`${file}: ${match[0]}`);
      }
    }
    for (const match of text.matchAll(/\b(?:apiKey|errorCode)\s*[!=]==\s*-?\d+/g))
      found.push(`${file}: ${match[0]}`);
  }
  assert.deepEqual(found, []);
});
