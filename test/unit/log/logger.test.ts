import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import { createLogger, setLogLevel } from "../../../src/log/logger.ts";

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger({ level: "info", json: true, destination }) };
}

const SECRETS = {
  token: "admin-token-0123456789",
  userPassword: "alice-password-secret",
  upstreamPassword: "upstream-password-secret",
  clientSecret: "oauth-client-secret-value",
  keyPassword: "tls-key-password-secret",
};

const CONFIG_WITH_SECRETS = `
kafka:
  bootstrap_servers: 127.0.0.1:9092
  security_protocol: SASL_SSL
  tls:
    key_password: ${SECRETS.keyPassword}
  sasl:
    mechanism: PLAIN
    username: proxy
    password: ${SECRETS.upstreamPassword}
listen:
  security:
    sasl:
      enabled_mechanisms: [PLAIN]
      credentials:
        users:
          alice: { password: ${SECRETS.userPassword} }
admin:
  token: ${SECRETS.token}
`;

describe("logger", () => {
  test("a config with secrets logs none of them, at any depth", async () => {
    const { lines, log } = capture();
    const config = parseConfigText(CONFIG_WITH_SECRETS, "secrets.yaml");
    log.child({ component: "test" }).info({ config: config.raw }, "the whole raw config");
    log.info({ raw: config.raw, adminToken: config.adminToken }, "again at the top");
    log.info({ oauth: { client_secret: SECRETS.clientSecret } }, "an oauth section");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines.length, 3);
    const text = lines.join("\n");
    for (const [name, secret] of Object.entries(SECRETS)) {
      assert.ok(!text.includes(secret), `${name} was logged: ${text}`);
    }
    assert.match(text, /"password":"\[redacted\]"/);
    assert.match(text, /"username":"proxy"/, "what is not a secret stays");
  });

  test("children follow the root's level when it changes at run time", async () => {
    const { lines, log } = capture();
    const child = log.child({ component: "a" }).child({ conn: 1 });
    child.debug("hidden");
    setLogLevel(log, "debug");
    child.debug("shown");
    setLogLevel(log, "warn");
    child.info("hidden again");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).msg),
      ["shown"],
    );
  });
});
