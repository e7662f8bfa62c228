import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { exportJWK, exportSPKI, generateKeyPair, importPKCS8, type JWTPayload, SignJWT } from "jose";
import { saslClientExchange } from "../../../src/security/sasl/client.ts";
import {
  OAuthBearerConfigError,
  type OAuthBearerOptions,
  OAuthBearerValidator,
  oauthBearerServerExchange,
} from "../../../src/security/sasl/oauthbearer-server.ts";
import { expectFailure, runExchange } from "./sasl-helpers.ts";

const NOW_MS = Date.parse("2030-06-01T12:00:00Z");
const NOW = NOW_MS / 1000;
const ISSUER = "https://issuer.example";
const AUDIENCE = "kafka-proxy";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let trusted: KeyPair;
let other: KeyPair;
let ecKey: KeyPair;
const directory = mkdtempSync(path.join(tmpdir(), "kpp-oauth-"));
let jwksFile: string;
let publicKeyFile: string;
let server: Server;
let jwksUrl: string;
let jwksRequests = 0;

async function jwksOf(...keys: [KeyPair, string][]) {
  return {
    keys: await Promise.all(
      keys.map(async ([pair, kid]) => ({
        ...(await exportJWK(pair.publicKey)),
        kid,
        alg: "RS256",
        use: "sig",
      })),
    ),
  };
}

before(async () => {
  trusted = await generateKeyPair("RS256", { extractable: true });
  other = await generateKeyPair("RS256", { extractable: true });
  ecKey = await generateKeyPair("ES256", { extractable: true });
  const jwks = JSON.stringify(await jwksOf([trusted, "trusted"]));
  jwksFile = path.join(directory, "jwks.json");
  writeFileSync(jwksFile, jwks);
  publicKeyFile = path.join(directory, "public.pem");
  writeFileSync(publicKeyFile, await exportSPKI(trusted.publicKey));
  server = createServer((_request, response) => {
    jwksRequests++;
    response.writeHead(200, { "content-type": "application/json" }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

interface TokenOptions {
  key?: KeyPair;
  kid?: string;
  alg?: string;
  claims?: JWTPayload;
  omit?: string[];
}

async function token({
  key = trusted,
  kid = "trusted",
  alg = "RS256",
  claims = {},
  omit = [],
}: TokenOptions = {}) {
  const payload: JWTPayload = {
    sub: "alice",
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW - 60,
    exp: NOW + 600,
    scope: "kafka.read kafka.write",
    ...claims,
  };
  for (const claim of omit) delete payload[claim];
  return new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(key.privateKey);
}

function validator(options: Partial<OAuthBearerOptions> = {}, now = () => NOW_MS) {
  return new OAuthBearerValidator({ jwksFile, issuer: ISSUER, audience: AUDIENCE, ...options }, now);
}

async function principalOf(v: OAuthBearerValidator, jwt: string): Promise<string> {
  const result = await v.validate(jwt);
  assert.ok("principal" in result, `expected a principal, got ${JSON.stringify(result)}`);
  return result.principal;
}

async function failureOf(v: OAuthBearerValidator, jwt: string): Promise<string> {
  const result = await v.validate(jwt);
  assert.ok("failure" in result, `expected a failure, got ${JSON.stringify(result)}`);
  const signature = jwt.split(".")[2];
  assert.ok(!result.failure.includes(jwt), "the reason does not contain the token");
  assert.ok(!signature || !result.failure.includes(signature), "nor its signature");
  return result.failure;
}

describe("OAuthBearerValidator", () => {
  test("accepts a valid token from a JWKS file: principal sub, expiry and lifetime", async () => {
    const result = await validator().validate(await token());
    assert.deepEqual(result, { principal: "alice", expiresAtMs: (NOW + 600) * 1000, lifetimeMs: 600_000 });
  });

  test("accepts a token from a JWKS served over http and caches the set", async () => {
    const v = validator({ jwksFile: undefined, jwksUrl });
    const before = jwksRequests;
    assert.equal(await principalOf(v, await token()), "alice");
    assert.equal(await failureOf(v, await token({ key: other })), "bad signature");
    assert.equal(await principalOf(v, await token()), "alice");
    assert.equal(
      jwksRequests - before,
      1,
      "one fetch; the unknown signature does not refetch within the cooldown",
    );
  });

  test("an unreachable or failing JWKS URL fails validation, naming the URL without its query", async () => {
    const failing = createServer((_request, response) => response.writeHead(503).end());
    await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/keys`;
      const v = validator({ jwksFile: undefined, jwksUrl: `${url}?secret=1` });
      const failure = await failureOf(v, await token());
      assert.match(failure, new RegExp(`^key source unavailable: ${url}: `));
      assert.doesNotMatch(failure, /secret/);
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  test("accepts a token checked against a PEM public key, RSA or EC", async () => {
    assert.equal(
      await principalOf(validator({ jwksFile: undefined, publicKeyFile }), await token()),
      "alice",
    );
    const ecFile = path.join(directory, "ec.pem");
    writeFileSync(ecFile, await exportSPKI(ecKey.publicKey));
    const ec = validator({ jwksFile: undefined, publicKeyFile: ecFile });
    assert.equal(await principalOf(ec, await token({ key: ecKey, alg: "ES256" })), "alice");
    assert.match(await failureOf(ec, await token()), /^bad signature: the token's algorithm is not allowed/);
  });

  test("accepts a token checked against an X.509 certificate's key", async () => {
    const keyFile = path.join(directory, "cert-key.pem");
    const certFile = path.join(directory, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=issuer",
      ],
      { stdio: "ignore" },
    );
    const privateKey = await importPKCS8(readFileSync(keyFile, "utf8"), "RS256");
    const v = validator({ jwksFile: undefined, publicKeyFile: certFile });
    assert.equal(await principalOf(v, await token({ key: { privateKey, publicKey: privateKey } })), "alice");
    assert.equal(await failureOf(v, await token()), "bad signature");
    assert.throws(() => validator({ jwksFile: undefined, publicKeyFile: keyFile }), /holds a private key/);
  });

  test("refuses: expired, nbf beyond the skew, bad signature, wrong audience, wrong issuer, missing scope", async () => {
    const v = validator({ requiredScopes: ["kafka.write"] });
    const cases: [TokenOptions, RegExp][] = [
      [{ claims: { exp: NOW - 31 } }, /^expired/],
      [{ claims: { nbf: NOW + 31 } }, /^not yet valid/],
      [{ key: other }, /^bad signature$/],
      [{ kid: "unknown" }, /^bad signature: no key matches/],
      [{ claims: { aud: "someone-else" } }, /^wrong audience$/],
      [{ claims: { aud: ["a", "b"] } }, /^wrong audience$/],
      [{ omit: ["aud"] }, /^malformed: the token has no 'aud' claim/],
      [{ claims: { iss: "https://evil.example" } }, /^wrong issuer$/],
      [{ claims: { scope: "kafka.read" } }, /^missing scope: kafka\.write$/],
      [{ omit: ["scope"] }, /^missing scope: kafka\.write$/],
      [{ omit: ["exp"] }, /^malformed: the token has no 'exp' claim/],
      [{ omit: ["sub"] }, /^malformed: the principal claim 'sub'/],
    ];
    for (const [options, reason] of cases) {
      assert.match(await failureOf(v, await token(options)), reason, JSON.stringify(options));
    }
    assert.match(await failureOf(v, "not-a-jwt"), /^malformed/);
    const [header, payload] = (await token()).split(".");
    assert.match(await failureOf(v, `${header}.${payload}.`), /^malformed|^bad signature/);
  });

  test("the clock skew tolerates exp and nbf within it", async () => {
    const v = validator({ clockSkewSeconds: 60 });
    assert.equal(await principalOf(v, await token({ claims: { exp: NOW - 30 } })), "alice");
    assert.equal(await principalOf(v, await token({ claims: { nbf: NOW + 30 } })), "alice");
    assert.match(await failureOf(v, await token({ claims: { exp: NOW - 61 } })), /^expired/);
  });

  test("refuses unsigned and HMAC tokens", async () => {
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "alice", iss: ISSUER, aud: AUDIENCE, exp: NOW + 600 }),
    ).toString("base64url")}.`;
    assert.match(
      await failureOf(validator(), unsigned),
      /^bad signature: the token's algorithm is not allowed/,
    );
    const hmac = await new SignJWT({ sub: "alice", iss: ISSUER, aud: AUDIENCE, exp: NOW + 600 })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!"));
    assert.match(await failureOf(validator(), hmac), /^bad signature: the token's algorithm is not allowed/);
  });

  test("audience lists, scp claims and a custom principal claim", async () => {
    const v = validator({
      audience: ["other", AUDIENCE],
      requiredScopes: ["a", "b"],
      principalClaim: "client_id",
    });
    const jwt = await token({
      claims: { aud: ["x", AUDIENCE], scp: ["a", "b"], client_id: "svc-1" },
      omit: ["scope"],
    });
    assert.equal(await principalOf(v, jwt), "svc-1");
    assert.match(
      await failureOf(v, await token({ claims: { scp: ["a"], client_id: "svc-1" }, omit: ["scope"] })),
      /^missing scope: b$/,
    );
    const scopeString = await token({ claims: { scope: "b a", client_id: "svc-1" } });
    assert.equal(await principalOf(v, scopeString), "svc-1");
    assert.match(await failureOf(v, await token()), /^malformed: the principal claim 'client_id'/);
  });

  test("reads the JWKS file again when it changes", async () => {
    const file = path.join(directory, "rotating.json");
    writeFileSync(file, JSON.stringify(await jwksOf([trusted, "trusted"])));
    utimesSync(file, new Date(NOW_MS - 10_000), new Date(NOW_MS - 10_000));
    const v = validator({ jwksFile: file });
    const rotated = await token({ key: other, kid: "rotated" });
    assert.match(await failureOf(v, rotated), /^bad signature/);
    writeFileSync(file, JSON.stringify(await jwksOf([other, "rotated"])));
    utimesSync(file, new Date(NOW_MS), new Date(NOW_MS));
    assert.equal(await principalOf(v, rotated), "alice");
    assert.match(await failureOf(v, await token()), /^bad signature/);
  });

  test("a missing or invalid key file is a configuration error; a later bad version keeps the last good keys", async () => {
    assert.throws(() => validator({ jwksFile: path.join(directory, "absent.json") }), /absent\.json: ENOENT/);
    const file = path.join(directory, "breaking.json");
    writeFileSync(file, "{not json");
    assert.throws(() => validator({ jwksFile: file }), OAuthBearerConfigError);
    writeFileSync(file, JSON.stringify(await jwksOf([trusted, "trusted"])));
    const v = validator({ jwksFile: file });
    writeFileSync(file, "{not json any more");
    assert.equal(await principalOf(v, await token()), "alice");
    rmSync(file);
    assert.equal(await principalOf(v, await token()), "alice");
  });

  test("the options need exactly one key source", () => {
    assert.throws(() => new OAuthBearerValidator({}), OAuthBearerConfigError);
    assert.throws(() => new OAuthBearerValidator({ jwksFile, publicKeyFile }), OAuthBearerConfigError);
    assert.throws(() => new OAuthBearerValidator({ jwksUrl: "ftp://x/jwks" }), /http or https/);
  });
});

describe("OAUTHBEARER server exchange", () => {
  test("authenticates Kafka's client message and reports the token lifetime", async () => {
    const step = await runExchange(
      saslClientExchange({ mechanism: "OAUTHBEARER", token: await token() }),
      oauthBearerServerExchange(validator()),
    );
    assert.deepEqual(step, {
      kind: "success",
      payload: Buffer.alloc(0),
      principal: "alice",
      lifetimeMs: 600_000,
    });
  });

  test("accepts extensions and an authzid equal to the principal; refuses another authzid", async () => {
    const jwt = await token();
    const ok = await oauthBearerServerExchange(validator()).step(
      Buffer.from(`n,a=alice,\u0001auth=Bearer ${jwt}\u0001traceId=abc\u0001\u0001`),
    );
    assert.equal(ok.kind, "success");
    const other = expectFailure(
      await oauthBearerServerExchange(validator()).step(
        Buffer.from(`n,a=bob,\u0001auth=Bearer ${jwt}\u0001\u0001`),
      ),
    );
    assert.match(other.reason, /different authorization id "bob"/);
  });

  test("a refused token fails with the check's reason and RFC 7628 error JSON", async () => {
    const jwt = await token({ claims: { exp: NOW - 100 } });
    const failure = expectFailure(
      await oauthBearerServerExchange(validator()).step(
        Buffer.from(`n,,\u0001auth=Bearer ${jwt}\u0001\u0001`),
      ),
    );
    assert.match(failure.reason, /^OAUTHBEARER: expired/);
    assert.equal(failure.clientMessage, "Authentication failed: the token has expired");
    assert.deepEqual(JSON.parse(failure.payload!.toString()), { status: "invalid_token" });
    assert.ok(!failure.reason.includes(jwt));
    const scoped = expectFailure(
      await oauthBearerServerExchange(validator({ requiredScopes: ["admin"] })).step(
        Buffer.from(`n,,\u0001auth=Bearer ${await token()}\u0001\u0001`),
      ),
    );
    assert.deepEqual(JSON.parse(scoped.payload!.toString()), { status: "insufficient_scope" });
  });

  test("malformed client messages fail without reaching the validator", async () => {
    const jwt = await token();
    const cases: [string, RegExp][] = [
      [`n,,auth=Bearer ${jwt}\u0001\u0001`, /malformed/],
      [`n,,\u0001auth=Bearer ${jwt}\u0001`, /malformed/],
      [`n,,\u0001auth=Basic ${jwt}\u0001\u0001`, /not 'Bearer <token>'/],
      [`n,,\u0001host=x\u0001\u0001`, /no auth=/],
      [`n,,\u0001auth=Bearer ${jwt}\u0001auth=Bearer ${jwt}\u0001\u0001`, /given twice/],
      [`p=tls-unique,,\u0001auth=Bearer ${jwt}\u0001\u0001`, /channel binding/],
      ["\u0001", /malformed/],
    ];
    for (const [message, reason] of cases) {
      const failure = expectFailure(await oauthBearerServerExchange(validator()).step(Buffer.from(message)));
      assert.match(failure.reason, reason, JSON.stringify(message));
      assert.ok(!failure.reason.includes(jwt));
    }
  });
});
