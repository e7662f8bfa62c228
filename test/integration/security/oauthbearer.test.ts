/**
 * OAUTHBEARER towards clients: a SASL_SSL proxy that accepts only OAUTHBEARER and checks each JWT against a JWKS
 * served by this test on the loopback (keys made here with jose), with issuer, audience, required scopes and clock
 * skew configured, in front of a SASL_SSL Kafka (the proxy logs in with its own SCRAM user). librdkafka
 * (confluent-kafka) hands the proxy a token through `oauth_cb`; the expiry it is told is an hour ahead whatever the
 * token says, so that the proxy, not the client, judges the token's `exp`.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import type { ProxyProcess } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";
import {
  clusterTls,
  createClusterTopic,
  type LibrdkafkaRunResult,
  librdkafkaRun,
  logLines,
  startProxyBehindCluster,
} from "./security-support.ts";

const ISSUER = "https://issuer.kpp.test";
const AUDIENCE = "kafka-partition-proxy";
const SCOPES = ["kafka.produce", "kafka.consume"];
const KID = "kpp-test-key-1";
const PRINCIPAL = "svc-orders";
const CLOCK_SKEW_SECONDS = 30;
/** Topics matching this are virtualized by this suite's proxy: 6 virtual partitions on 2. */
const VIRTUAL_PREFIX = "oauth-virt-";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

let kafka: KafkaTestCluster;
let proxy: ProxyProcess;
let jwks: http.Server;
let jwksRequests = 0;
let signingKey: SigningKey;
/** Not in the JWKS. */
let otherKey: SigningKey;
/** Every token handed to a client, to check that none reaches the logs. */
const tokens: string[] = [];

before(async () => {
  const [cluster, trusted, other] = await Promise.all([
    useKafkaCluster({ brokers: 1, version: "4", security: "sasl_ssl" }),
    generateKeyPair("RS256"),
    generateKeyPair("RS256"),
  ]);
  kafka = cluster;
  signingKey = trusted.privateKey;
  otherKey = other.privateKey;
  const body = JSON.stringify({
    keys: [{ ...(await exportJWK(trusted.publicKey)), kid: KID, alg: "RS256", use: "sig" }],
  });
  jwks = http.createServer((request, response) => {
    jwksRequests++;
    if (request.url !== "/jwks.json") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    jwks.once("error", reject);
    jwks.listen(0, "127.0.0.1", resolve);
  });
  const tls = clusterTls(kafka);
  proxy = await startProxyBehindCluster(
    kafka,
    {
      protocol: "SASL_SSL",
      tls: { cert_path: tls.cert, key_path: tls.key },
      sasl: {
        enabled_mechanisms: ["OAUTHBEARER"],
        oauthbearer: {
          jwks_url: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
          issuer: ISSUER,
          audience: AUDIENCE,
          required_scopes: SCOPES,
          clock_skew_seconds: CLOCK_SKEW_SECONDS,
        },
      },
    },
    { mapping: { topics: { [`^${VIRTUAL_PREFIX}.*`]: { virtual_partitions: 6, physical_partitions: 2 } } } },
  );
});

after(async () => {
  await proxy?.stop();
  jwks?.closeAllConnections();
  await new Promise((resolve) => jwks?.close(resolve));
});

interface TokenOptions {
  key?: SigningKey;
  kid?: string;
  issuer?: string;
  audience?: string;
  scope?: string;
  /** Seconds from now; negative: in the past. */
  expiresIn?: number;
}

/** A JWT minted now; valid for the proxy unless an option says otherwise. */
async function token(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = { scope: options.scope ?? SCOPES.join(" ") };
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: options.kid ?? KID })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(PRINCIPAL)
    .setIssuedAt(now - 900)
    .setExpirationTime(now + (options.expiresIn ?? 3600))
    .sign(options.key ?? signingKey);
  tokens.push(jwt);
  return jwt;
}

function clientConfig(): Record<string, string> {
  return {
    "bootstrap.servers": proxy.bootstrap,
    "security.protocol": "SASL_SSL",
    "ssl.ca.location": clusterTls(kafka).ca,
    "sasl.mechanisms": "OAUTHBEARER",
  };
}

/** librdkafka with `jwt`, told the token lasts another hour (the proxy judges its `exp`). */
function withToken(
  jwt: string,
  spec: Omit<Parameters<typeof librdkafkaRun>[0], "config" | "token" | "expiry">,
): Promise<LibrdkafkaRunResult> {
  return librdkafkaRun({ ...spec, config: clientConfig(), token: jwt, expiry: Date.now() / 1000 + 3600 });
}

function assertNoTokenLogged(): void {
  const logs = proxy.logs();
  for (const jwt of tokens) {
    const [, payload, signature] = jwt.split(".");
    assert.equal(logs.includes(payload!), false, "a token's payload is in the logs");
    assert.equal(logs.includes(signature!), false, "a token's signature is in the logs");
  }
}

for (const virtualized of [false, true]) {
  const kind = virtualized ? "virtualized" : "plain";

  test(`librdkafka with a valid JWT produces and consumes through the OAUTHBEARER proxy (${kind} topic)`, async () => {
    const topic = `${virtualized ? VIRTUAL_PREFIX : "oauth-plain-"}${Date.now()}`;
    await createClusterTopic(kafka, topic, virtualized ? 2 : 6);
    const from = proxy.logs().length;
    const result = await withToken(await token(), {
      topic,
      produce: 12,
      partitions: 6,
      label: "oauth",
      consume: 12,
    });
    assert.equal(result.acked.length, 12, JSON.stringify(result));
    assert.deepEqual([...result.seen].sort(), [...result.acked].sort());
    assert.deepEqual([...new Set(result.seen_partitions)].sort(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(result.delivery_errors, []);
    assert.deepEqual(result.consume_errors, []);
    assert.deepEqual(result.errors, []);
    const authenticated = logLines(proxy.logs().slice(from)).filter(
      (line) => line.msg === "client authenticated",
    );
    assert.ok(authenticated.length > 0, "the proxy logged the authentications");
    assert.deepEqual([...new Set(authenticated.map((line) => line.principal))], [PRINCIPAL]);
    assert.ok(jwksRequests > 0, "the proxy fetched the JWKS");
    assertNoTokenLogged();
  });
}

test(`a token that expired less than clock_skew_seconds (${CLOCK_SKEW_SECONDS} s) ago is still accepted`, async () => {
  const topic = `oauth-skew-${Date.now()}`;
  await createClusterTopic(kafka, topic, 1);
  const result = await withToken(await token({ expiresIn: -5 }), {
    topic,
    produce: 1,
    partitions: 1,
    label: "skew",
  });
  assert.deepEqual(result.acked, ["skew-0"], JSON.stringify(result));
  assert.deepEqual(result.errors, []);
});

const refusals: {
  what: string;
  /** The token's options (a function: the keys are made in before()). */
  options: () => TokenOptions;
  /** What librdkafka shows after "SASL authentication error: ". */
  client: RegExp;
  /** The reason in the proxy's log line. */
  logged: RegExp;
}[] = [
  {
    what: "an expired token",
    options: () => ({ expiresIn: -300 }),
    client: /Authentication failed: the token has expired/,
    logged: /expired: the token's exp has passed/,
  },
  {
    what: "a token signed by another key (the JWKS key's kid)",
    options: () => ({ key: otherKey }),
    client: /Authentication failed: invalid token/,
    logged: /bad signature$/,
  },
  {
    what: "a token whose kid is not in the JWKS",
    options: () => ({ kid: "unknown-key" }),
    client: /Authentication failed: invalid token/,
    logged: /bad signature: no key matches the token's kid and alg/,
  },
  {
    what: "a token for another audience",
    options: () => ({ audience: "another-service" }),
    client: /Authentication failed: invalid token/,
    logged: /wrong audience/,
  },
  {
    what: "a token from another issuer",
    options: () => ({ issuer: "https://elsewhere.test" }),
    client: /Authentication failed: invalid token/,
    logged: /wrong issuer/,
  },
  {
    what: "a token without a required scope",
    options: () => ({ scope: "kafka.produce" }),
    client: /Authentication failed: the token lacks a required scope/,
    logged: /missing scope: kafka\.consume/,
  },
];

for (const refusal of refusals) {
  test(`${refusal.what} is refused: librdkafka shows _AUTHENTICATION, the proxy logs the client and the reason, not the token`, async () => {
    const jwt = await token(refusal.options());
    const from = proxy.logs().length;
    const result = await withToken(jwt, {
      topic: "oauth-refused",
      produce: 1,
      partitions: 1,
      label: "refused",
      stopOn: ["_AUTHENTICATION"],
      messageTimeoutMs: 15_000,
      timeoutS: 20,
    });
    assert.deepEqual(result.acked, []);
    const authentication = result.errors.filter((e) => e.name === "_AUTHENTICATION");
    assert.ok(authentication.length > 0, JSON.stringify(result));
    for (const error of authentication) {
      assert.match(error.message, /SASL authentication error: /);
      assert.match(error.message, refusal.client);
    }
    const line = await waitFor(
      "the refusal logged",
      async () => logLines(proxy.logs().slice(from)).find((l) => l.msg === "client authentication failed"),
      10_000,
    );
    assert.match(String(line.client), /^127\.0\.0\.1:\d+$/);
    assert.match(String(line.reason), /^OAUTHBEARER: /);
    assert.match(String(line.reason), refusal.logged);
    assert.equal(proxy.logs().includes(jwt), false, "the token is in the logs");
    assertNoTokenLogged();
  });
}
