import assert from "node:assert/strict";
import { test } from "node:test";
import { REDACTED, redactConfig, secretEnvValues } from "../../../src/admin/api/redact.ts";

const SECRETS = [
  "admin-token-value-1234",
  "listen-user-password",
  "scram-stored-key",
  "scram-server-key",
  "scram-salt",
  "upstream-sasl-password",
  "oauth-client-secret",
  "tls-key-password",
  "listen-tls-key-password",
  "env-secret-inside-text",
];

const config = {
  admin: { token: SECRETS[0] },
  listen: {
    address: "127.0.0.1:9092",
    security: {
      protocol: "SASL_SSL",
      tls: { cert_path: "/etc/proxy/cert.pem", key_path: "/etc/proxy/key.pem", key_password: SECRETS[8] },
      sasl: {
        enabled_mechanisms: ["PLAIN", "SCRAM-SHA-256"],
        credentials: {
          file: "/etc/proxy/users.txt",
          users: {
            alice: SECRETS[1],
            bob: { password: SECRETS[1] },
            carol: { salt: SECRETS[4], iterations: 4096, stored_key: SECRETS[2], server_key: SECRETS[3] },
          },
        },
      },
    },
  },
  clusters: {
    east: {
      bootstrap_servers: ["east:9092"],
      tls: { ca_cert_path: "/ca.pem", key_password: SECRETS[7] },
      sasl: {
        mechanism: "OAUTHBEARER",
        username: "proxy",
        password: SECRETS[5],
        oauthbearer: {
          token_endpoint_url: "https://idp/token",
          client_id: "proxy",
          client_secret: SECRETS[6],
          client_secret_file: "/run/secret",
        },
      },
    },
  },
  virtual_cluster: { name: `prefix-${SECRETS[9]}` },
  mapping: { topics: { "orders.*": { virtual_partitions: 12, physical_partitions: 4 } } },
};

test("every secret of the config is redacted, by field name, by schema and by environment value", () => {
  const redacted = redactConfig(config, secretEnvValues({ KPP_DB_PASSWORD: SECRETS[9], HOME: "/root" }));
  const text = JSON.stringify(redacted);
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} is hidden`);
  const view = redacted as typeof config;
  assert.equal(view.admin.token, REDACTED);
  assert.deepEqual(view.listen.security.sasl.credentials.users, {
    alice: REDACTED,
    bob: REDACTED,
    carol: REDACTED,
  });
  assert.equal(view.listen.security.sasl.credentials.file, "/etc/proxy/users.txt", "file paths stay");
  assert.equal(view.listen.security.tls.key_path, "/etc/proxy/key.pem");
  assert.equal(view.clusters.east.sasl.username, "proxy", "user names stay");
  assert.equal(view.clusters.east.sasl.oauthbearer.token_endpoint_url, "https://idp/token");
  assert.equal(view.clusters.east.sasl.oauthbearer.client_secret_file, "/run/secret");
  assert.equal(view.virtual_cluster.name, `prefix-${REDACTED}`);
  assert.deepEqual(view.mapping, config.mapping, "what is not secret is unchanged");
});

test("environment values are only hidden for secret-named variables of some length", () => {
  const values = secretEnvValues({
    API_TOKEN: "tok3n-value",
    SHELL: "/bin/bash",
    SHORT_KEY: "ab",
    PATH: "/usr/bin",
  });
  assert.deepEqual(values, ["tok3n-value"]);
});
