import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findExecutable, resolveClasspath } from "../../../scripts/maven/resolve.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const work = mkdtempSync(join(process.env.KPP_TEST_TMP ?? tmpdir(), "maven-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs the kafka CLI with a PATH holding only the given tools (node is always there). */
function runCliWith(tools: string[], args: string[], extraEnv: Record<string, string> = {}) {
  const bin = mkdtempSync(join(work, "bin-"));
  for (const name of tools) {
    const found = findExecutable(name);
    assert.ok(found, `${name} must be installed for this test`);
    symlinkSync(found, join(bin, name));
  }
  const env: Record<string, string> = {
    PATH: `${dirname(process.execPath)}:${bin}`,
    HOME: process.env.HOME ?? homedir(),
    KPP_CACHE_DIR: mkdtempSync(join(work, "cache-")),
    ...extraEnv,
  };
  return spawnSync(process.execPath, [join(ROOT, "scripts/kafka/main.ts"), ...args], {
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
}

function assertOneClearLine(result: ReturnType<typeof runCliWith>, pattern: RegExp): void {
  assert.notEqual(result.status, 0);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

test("without java, start says so in one line", () => {
  const result = runCliWith(["mvn"], ["start"]);
  assertOneClearLine(result, /^Java not found: install .*apt-get install openjdk-17/);
});

test("without Maven, start says so in one line", () => {
  const result = runCliWith(["java"], ["start"]);
  assertOneClearLine(result, /^Maven not found: install it with `apt-get install maven`$/);
});

test("without a reachable Maven Central, resolution says so in one line", () => {
  const settings = join(work, "unreachable-settings.xml");
  writeFileSync(settings, mirrorSettings("http://127.0.0.1:9/maven2"));
  const script = `
    import { resolveClasspath } from ${JSON.stringify(join(ROOT, "scripts/maven/resolve.ts"))};
    try {
      await resolveClasspath("offline", ["org.slf4j:slf4j-api:1.7.36"], {
        localRepository: ${JSON.stringify(join(work, "empty-repo"))},
        settingsFile: ${JSON.stringify(settings)},
      });
    } catch (error) { console.error(error.message); process.exitCode = 2; }`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, KPP_CACHE_DIR: mkdtempSync(join(work, "cache-")) },
    encoding: "utf8",
    timeout: 120_000,
  });
  assertOneClearLine(result, /^Maven could not reach Maven Central/);
});

test("a corrupt cached jar is detected, deleted and fetched again", async () => {
  const previousCache = process.env.KPP_CACHE_DIR;
  process.env.KPP_CACHE_DIR = mkdtempSync(join(work, "cache-"));
  try {
    const localRepository = join(work, "repo");
    mkdirSync(localRepository, { recursive: true });
    const settings = join(work, "file-mirror-settings.xml");
    writeFileSync(settings, mirrorSettings(`file://${join(homedir(), ".m2", "repository")}`));
    const options = { localRepository, settingsFile: settings };
    const coordinates = ["org.slf4j:slf4j-api:1.7.36"];

    const [jar] = await resolveClasspath("corrupt-jar", coordinates, options);
    assert.ok(jar?.startsWith(localRepository));
    const original = readFileSync(jar);

    truncateSync(jar, 1000);
    const started = performance.now();
    const [refetched] = await resolveClasspath("corrupt-jar", coordinates, options);
    assert.equal(refetched, jar);
    assert.deepEqual(readFileSync(jar), original, "truncated jar was replaced");

    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1] ^= 0xff;
    writeFileSync(jar, flipped);
    await resolveClasspath("corrupt-jar", coordinates, { ...options, verify: true });
    assert.deepEqual(readFileSync(jar), original, "same-size corruption was caught by the SHA-1 check");

    const fastStarted = performance.now();
    await resolveClasspath("corrupt-jar", coordinates, options);
    const fastMs = performance.now() - fastStarted;
    assert.ok(fastMs < 100, `cached resolution took ${fastMs} ms`);
    assert.ok(fastStarted - started > fastMs);
  } finally {
    if (previousCache === undefined) delete process.env.KPP_CACHE_DIR;
    else process.env.KPP_CACHE_DIR = previousCache;
  }
});

function mirrorSettings(url: string): string {
  return `<settings><mirrors><mirror><id>test-mirror</id><mirrorOf>*</mirrorOf><url>${url}</url></mirror></mirrors></settings>\n`;
}
