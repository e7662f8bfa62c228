import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeClientSecurity } from "../../../src/config/security.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { API_KEYS, ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { ConnectionAuthentication } from "../../../src/proxy/connection/authentication.ts";
import { ClientAuthenticator } from "../../../src/security/client-authenticator.ts";
import { FakeBroker, metadataRequest, startProxy, TestClient } from "./connection-rig.ts";

function authenticator(): ClientAuthenticator {
  const problems: string[] = [];
  const settings = normalizeClientSecurity(
    {
      protocol: "SASL_PLAINTEXT",
      mode: "terminate",
      authentication_timeout_ms: 10_000,
      connections_max_reauth_ms: 0,
      sasl: { enabled_mechanisms: ["PLAIN"], credentials: { users: { alice: "alice-pw", bob: "bob-pw" } } },
    },
    problems,
    [],
    [],
  );
  assert.deepEqual(problems, []);
  return new ClientAuthenticator(settings, silentLogger);
}

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`);

test("a mechanism that is not enabled is refused with the enabled ones", () => {
  const response = new ConnectionAuthentication(authenticator(), 0).handshake({ mechanism: "SCRAM-SHA-256" });
  assert.equal(response.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
  assert.deepEqual(response.mechanisms, ["PLAIN"]);
});

test("PLAIN authenticates; SaslAuthenticate without a handshake and a wrong password fail", async () => {
  const connection = new ConnectionAuthentication(authenticator(), 0);
  const early = await connection.authenticate({ authBytes: plain("alice", "alice-pw") });
  assert.equal(early.response.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(connection.handshake({ mechanism: "PLAIN" }).errorCode, ErrorCode.NONE);
  const wrong = await connection.authenticate({ authBytes: plain("alice", "nope") });
  assert.equal(wrong.outcome.kind, "failed");
  assert.equal(wrong.response.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
  assert.equal(connection.isAuthenticated(Date.now()), false);
  connection.handshake({ mechanism: "PLAIN" });
  const good = await connection.authenticate({ authBytes: plain("alice", "alice-pw") });
  assert.deepEqual(good.outcome, { kind: "authenticated", principal: "alice", reauthentication: false });
  assert.equal(good.response.sessionLifetimeMs, 0n);
  assert.equal(connection.isAuthenticated(Date.now()), true);
});

test("a session lasts connections_max_reauth_ms; re-authentication must be as the same principal", async () => {
  const connection = new ConnectionAuthentication(authenticator(), 60_000);
  connection.handshake({ mechanism: "PLAIN" });
  const first = await connection.authenticate({ authBytes: plain("alice", "alice-pw") });
  assert.equal(first.response.sessionLifetimeMs, 60_000n);
  assert.equal(connection.isAuthenticated(Date.now() + 59_000), true);
  assert.equal(connection.isAuthenticated(Date.now() + 61_000), false, "the session ends");
  connection.handshake({ mechanism: "PLAIN" });
  const other = await connection.authenticate({ authBytes: plain("bob", "bob-pw") });
  assert.equal(other.outcome.kind, "failed");
  connection.handshake({ mechanism: "PLAIN" });
  const again = await connection.authenticate({ authBytes: plain("alice", "alice-pw") });
  assert.deepEqual(again.outcome, { kind: "authenticated", principal: "alice", reauthentication: true });
});

test("before authentication a request other than ApiVersions and SASL closes the connection and opens no broker connection; after, requests pass", async () => {
  const broker = await FakeBroker.start();
  const rig = await startProxy([], broker, {
    authentication: new ConnectionAuthentication(authenticator(), 0),
    authenticationTimeoutMs: 10_000,
  });
  try {
    const early = await TestClient.connect(rig.port);
    early.send(metadataRequest(1));
    assert.equal(await early.closesWithin(2000), true);
    assert.equal(broker.accepted, 0, "no broker connection for an unauthenticated client");
  } finally {
    rig.stop();
    broker.close();
  }
  const broker2 = await FakeBroker.start();
  const rig2 = await startProxy([], broker2, {
    authentication: new ConnectionAuthentication(authenticator(), 0),
    authenticationTimeoutMs: 10_000,
  });
  try {
    const client = await TestClient.connect(rig2.port);
    const handshake = API_KEYS.find((api) => api.apiKey === ApiKey.SaslHandshake)!.maxVersion;
    const authenticate = API_KEYS.find((api) => api.apiKey === ApiKey.SaslAuthenticate)!.maxVersion;
    client.send(
      encodeRequest(
        { apiKey: ApiKey.SaslHandshake, apiVersion: handshake, correlationId: 1, clientId: "c" },
        {
          mechanism: "PLAIN",
        },
      ),
      encodeRequest(
        { apiKey: ApiKey.SaslAuthenticate, apiVersion: authenticate, correlationId: 2, clientId: "c" },
        { authBytes: plain("alice", "alice-pw") },
      ),
      metadataRequest(3),
    );
    const frames = await client.receive(3);
    assert.equal(frames[2]!.readInt32BE(4), 3, "the Metadata response came back");
    assert.equal(broker2.accepted, 1);
  } finally {
    rig2.stop();
    broker2.close();
  }
});
