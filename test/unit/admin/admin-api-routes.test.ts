/**
 * The admin API's routes: path parameters, JSON bodies, 404 and 405, and the token that every state-changing call
 * needs (401 without it, with a wrong one, or when none is configured; each such call is logged with its caller).
 */
import assert from "node:assert/strict";
import type http from "node:http";
import type net from "node:net";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import pino from "pino";
import { startAdminServer } from "../../../src/admin/http-server.ts";
import { ProxyMetrics } from "../../../src/admin/metrics.ts";
import { AdminApi, AdminError } from "../../../src/admin/routes.ts";

const TOKEN = "a-token-of-at-least-16-chars";
const lines: Record<string, unknown>[] = [];
const log = pino(
  { level: "info" },
  new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  }),
);
const api = new AdminApi(TOKEN);
const resets: unknown[] = [];
let server: http.Server;
let port: number;

before(async () => {
  api.get("/api/groups/{group}", ({ params }) => ({ json: { group: params.group } }));
  api.post("/api/groups/{group}/reset", ({ params, body }) => {
    if (typeof body !== "object" || body === null) throw new AdminError(400, "a JSON object is required");
    resets.push({ group: params.group, body });
    return { json: { applied: true } };
  });
  server = await startAdminServer(
    { host: "127.0.0.1", port: 0 },
    new ProxyMetrics((apiKey) => `api${apiKey}`),
    { ready: () => true, describe: () => ({}) },
    log,
    api,
  );
  port = (server.address() as net.AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

async function call(method: string, path: string, options: { token?: string; body?: string } = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
    body: options.body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test("a GET route needs no token and gets its path parameters URL-decoded", async () => {
  const answer = await call("GET", "/api/groups/orders%2Fbilling");
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, { group: "orders/billing" });
});

test("a state-changing call without the token, or with a wrong one, gets 401 and changes nothing", async () => {
  const before = lines.length;
  const body = JSON.stringify({ topic: "T", to: "earliest" });
  const missing = await call("POST", "/api/groups/g/reset", { body });
  assert.equal(missing.status, 401);
  assert.match(String(missing.body.error), /Authorization: Bearer/);
  const wrong = await call("POST", "/api/groups/g/reset", { token: `${TOKEN}x`, body });
  assert.equal(wrong.status, 401);
  assert.equal(resets.length, 0);
  const refusals = lines.slice(before).filter((line) => String(line.msg).startsWith("admin call refused"));
  assert.equal(refusals.length, 2);
  assert.match(String(refusals[0]!.remote), /^(::ffff:)?127\.0\.0\.1:\d+$/);
});

test("with the token the call is served, and logged as an admin action with its caller", async () => {
  const before = lines.length;
  const answer = await call("POST", "/api/groups/g/reset", {
    token: TOKEN,
    body: JSON.stringify({ topic: "T", to: "earliest" }),
  });
  assert.equal(answer.status, 200);
  assert.deepEqual(resets, [{ group: "g", body: { topic: "T", to: "earliest" } }]);
  const actions = lines.slice(before).filter((line) => line.msg === "admin action");
  assert.equal(actions.length, 1);
  assert.equal(actions[0]!.path, "/api/groups/g/reset");
  assert.equal(actions[0]!.status, 200);
});

test("a body that is not JSON gets 400, a handler's AdminError its own status", async () => {
  const notJson = await call("POST", "/api/groups/g/reset", { token: TOKEN, body: "{topic:" });
  assert.equal(notJson.status, 400);
  assert.match(String(notJson.body.error), /not JSON/);
  const noBody = await call("POST", "/api/groups/g/reset", { token: TOKEN });
  assert.equal(noBody.status, 400);
  assert.equal(noBody.body.error, "a JSON object is required");
});

test("an unknown path gets 404 with the routes, a known path under another method 405", async () => {
  const unknown = await call("GET", "/api/nothing");
  assert.equal(unknown.status, 404);
  assert.ok(Array.isArray(unknown.body.routes));
  assert.equal((await call("DELETE", "/api/groups/g")).status, 405);
});

test("without a configured token every state-changing call is refused, and a reload can set one", async () => {
  api.setToken(undefined);
  try {
    const refused = await call("POST", "/api/groups/g/reset", { token: TOKEN, body: "{}" });
    assert.equal(refused.status, 401);
    assert.match(String(refused.body.error), /admin\.token is not configured/);
  } finally {
    api.setToken(TOKEN);
  }
  assert.equal((await call("POST", "/api/groups/g/reset", { token: TOKEN, body: "{}" })).status, 200);
});
