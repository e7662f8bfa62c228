import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfigFile, type ProxyConfig } from "../../../src/config/load.ts";

const REFERENCE = join(import.meta.dirname, "fixtures", "reference");
const ENV = {
  KAFKA_PROXY_PASSWORD: "proxy-pw",
  CONFLUENT_API_KEY: "api-key",
  CONFLUENT_API_SECRET: "api-secret",
};
const load = (name: string): ProxyConfig => loadConfigFile(join(REFERENCE, name), ENV);

test("every example config of the Rust kafka-partition-remapper loads", () => {
  const names = readdirSync(REFERENCE).filter((name) => name.endsWith(".yaml"));
  assert.equal(names.length, 8);
  for (const name of names) assert.doesNotThrow(() => load(name), name);
});

test("metadata_refresh_interval_secs: 0 turns the background refresh off", () => {
  assert.equal(load("development-local.yaml").metadataRefreshMs, 0);
});

test("SASL_SSL towards clients and brokers keeps its meaning", () => {
  const config = load("sasl-scram-internal.yaml");
  assert.equal(config.clientSecurity.protocol, "SASL_SSL");
  assert.equal(config.clientSecurity.mode, "terminate");
  assert.equal(config.clientSecurity.tls?.certPath, "/etc/kafka-proxy/tls/server.crt");
  assert.equal(config.clientSecurity.tls?.clientAuth, "none");
  assert.deepEqual(config.clientSecurity.sasl?.mechanisms, ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]);
  assert.equal(
    config.clientSecurity.sasl?.credentials.file,
    "/etc/kafka-proxy/secrets/sasl-credentials.yaml",
  );
  const upstream = config.clusters[0]!.security;
  assert.equal(upstream.protocol, "SASL_SSL");
  assert.equal(upstream.tls?.caCertPath, "/etc/kafka-proxy/tls/kafka-ca.crt");
  assert.equal(upstream.tls?.insecureSkipVerify, false);
  assert.deepEqual(upstream.sasl, {
    mechanism: "SCRAM-SHA-512",
    username: "kafka-proxy-service",
    password: "proxy-pw",
  });
});

test("the Confluent Cloud example authenticates upstream with PLAIN from the environment", () => {
  const upstream = load("sasl-ssl-confluent-cloud.yaml").clusters[0]!.security;
  assert.deepEqual(upstream.sasl, { mechanism: "PLAIN", username: "api-key", password: "api-secret" });
  assert.equal(upstream.tls?.caCertPath, undefined, "the system CAs are trusted");
  assert.equal(upstream.tls?.insecureSkipVerify, false);
});

test("mTLS: require_client_cert and the principal mapping rules", () => {
  const config = load("mtls-enterprise.yaml");
  const tls = config.clientSecurity.tls!;
  assert.equal(config.clientSecurity.protocol, "SSL");
  assert.equal(tls.clientAuth, "required");
  assert.equal(tls.caCertPath, "/etc/kafka-proxy/tls/client-ca-bundle.pem");
  assert.equal(tls.principalMappingRules, "RULE:^CN=([^,]+).*$/$1/L,RULE:^.*CN=([^,]+).*$/$1/L,DEFAULT");
  const upstream = config.clusters[0]!.security;
  assert.equal(upstream.protocol, "SSL");
  assert.equal(upstream.tls?.certPath, "/etc/kafka-proxy/tls/proxy-client.crt");
  assert.equal(upstream.tls?.keyPath, "/etc/kafka-proxy/tls/proxy-client.key");
  assert.equal(upstream.sasl, undefined);
});

test("the files a config names are listed with their field paths for --check", () => {
  const fields = load("mtls-enterprise.yaml").files.map((named) => named.field);
  assert.deepEqual(fields.sort(), [
    "kafka.tls.ca_cert_path",
    "kafka.tls.cert_path",
    "kafka.tls.key_path",
    "listen.security.tls.ca_cert_path",
    "listen.security.tls.cert_path",
    "listen.security.tls.key_path",
  ]);
});
