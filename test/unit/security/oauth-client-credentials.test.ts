import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { silentLogger } from "../../../src/log/logger.ts";
import { OAuthClientCredentials } from "../../../src/security/oauth-client-credentials.ts";

const requests: { authorization: string | undefined; body: string }[] = [];
let expiresIn = 3600;
let server: http.Server;
let url: string;

before(async () => {
  server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      requests.push({ authorization: request.headers.authorization, body });
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ access_token: `token-${requests.length}`, expires_in: expiresIn }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});

after(() => server.close());

const settings = () => ({
  mechanism: "OAUTHBEARER" as const,
  tokenEndpointUrl: url,
  clientId: "proxy client",
  clientSecret: "s3cret:x",
  scope: "kafka",
  audience: undefined,
});

test("fetches a token with the client-credentials grant and Basic client authentication", async () => {
  requests.length = 0;
  const tokens = new OAuthClientCredentials(settings(), silentLogger);
  assert.equal(await tokens.token(), "token-1");
  const [sent] = requests;
  const params = new URLSearchParams(sent!.body);
  assert.equal(params.get("grant_type"), "client_credentials");
  assert.equal(params.get("scope"), "kafka");
  const [user, password] = Buffer.from(sent!.authorization!.replace(/^Basic /, ""), "base64")
    .toString()
    .split(":")
    .map(decodeURIComponent);
  assert.deepEqual([user, password], ["proxy client", "s3cret:x"]);
});

test("a token is reused until most of its lifetime has passed, and concurrent callers share one fetch", async () => {
  requests.length = 0;
  expiresIn = 3600;
  const tokens = new OAuthClientCredentials(settings(), silentLogger);
  const [a, b] = await Promise.all([tokens.token(), tokens.token()]);
  assert.equal(a, b);
  assert.equal(await tokens.token(), a);
  assert.equal(requests.length, 1);
  expiresIn = 0;
  const short = new OAuthClientCredentials(settings(), silentLogger);
  const first = await short.token();
  assert.notEqual(await short.token(), first, "an expired token is fetched again");
});
