import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigFile } from "../../../src/config/load.ts";

const EXAMPLES = join(import.meta.dirname, "..", "..", "..", "config");
const ENV = { KAFKA_PROXY_PASSWORD: "pw", CONFLUENT_API_KEY: "key", CONFLUENT_API_SECRET: "secret" };

test("every example config in config/ loads", () => {
  const names = readdirSync(EXAMPLES).filter((name) => name.endsWith(".yaml"));
  assert.deepEqual(names.sort(), [
    "confluent-cloud.yaml",
    "internal-scram.yaml",
    "local-development.yaml",
    "mtls-enterprise.yaml",
    "multi-tenant.yaml",
    "split-clusters.yaml",
  ]);
  for (const name of names) {
    // internal-scram reads its broker password from a file, which exists only where it is deployed
    if (name === "internal-scram.yaml") {
      assert.throws(
        () => loadConfigFile(join(EXAMPLES, name), ENV),
        /kafka\.sasl\.password_file: cannot read/,
      );
      continue;
    }
    assert.doesNotThrow(() => loadConfigFile(join(EXAMPLES, name), ENV), name);
  }
});

test("the multi-tenant example confines each tenant to its prefix", () => {
  const config = loadConfigFile(join(EXAMPLES, "multi-tenant.yaml"), ENV);
  assert.equal(config.authorization.enabled, true);
  assert.equal(config.authorization.principals.get("acme")?.confineToPrefix, "acme.");
  assert.equal(config.authorization.principals.get("globex")?.confineToPrefix, "globex.");
});
