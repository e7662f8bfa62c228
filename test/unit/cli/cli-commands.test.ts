import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CredentialStore } from "../../../src/security/credentials.ts";

const CLI = join(import.meta.dirname, "..", "..", "..", "src", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "kpp-cli-"));

function cli(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
}

test("--check accepts a valid config and exits 0", () => {
  const file = join(dir, "ok.yaml");
  writeFileSync(file, "kafka: { bootstrap_servers: ['127.0.0.1:9092'] }\n");
  const result = cli(["--config", file, "--check"]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /ok/);
});

test("--check exits 2 naming every problem, unreadable files included", () => {
  const file = join(dir, "bad.yaml");
  writeFileSync(
    file,
    [
      "listen:",
      "  max_connections: 0",
      "  security:",
      "    protocol: SASL_SSL",
      "    tls: { cert_path: /nonexistent/server.crt, key_path: /nonexistent/server.key }",
      "    sasl: { enabled_mechanisms: [SCRAM-SHA-512], credentials: { file: /nonexistent/credentials.txt } }",
      "kafka:",
      "  bootstrap_servers: ['127.0.0.1:9092']",
      "  security_protocol: SASL_SSL",
      "  sasl: { mechanism: PLAIN, username: u }",
      "",
    ].join("\n"),
  );
  const result = cli(["--config", file, "--check"]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /listen\.max_connections/);
  const unreadable = cli(["--config", file.replace("bad", "bad-files"), "--check"]);
  assert.equal(unreadable.status, 2, "a missing config file");
  writeFileSync(file, readFileSync(file, "utf8").replace("max_connections: 0", "max_connections: 10"));
  const files = cli(["--config", file, "--check"]);
  assert.equal(files.status, 2);
  for (const field of [
    "kafka.sasl.password",
    "listen.security.tls.cert_path",
    "listen.security.tls.key_path",
    "listen.security.sasl.credentials.file",
  ]) {
    assert.match(files.stderr, new RegExp(field.replaceAll(".", "\\.")), `${field} in:\n${files.stderr}`);
  }
});

test("scram add stores salted credentials that verify, and never the password", () => {
  const file = join(dir, "credentials.txt");
  const result = cli(
    ["scram", "add", "--file", file, "--user", "alice", "--iterations", "4096"],
    "s3cret-pw\n",
  );
  assert.equal(result.status, 0, result.stderr);
  const text = readFileSync(file, "utf8");
  assert.equal(text.includes("s3cret-pw"), false);
  assert.match(text, /^alice:SCRAM-SHA-512:/m);
  assert.match(text, /^alice:SCRAM-SHA-256:/m);
  const store = CredentialStore.fromConfig({ file });
  assert.equal(store.verifyPassword("alice", "s3cret-pw"), true);
  assert.equal(store.verifyPassword("alice", "wrong"), false);
  assert.equal(cli(["scram", "add", "--file", file, "--user", "bob", "--mechanism", "MD5"], "x\n").status, 2);
});
