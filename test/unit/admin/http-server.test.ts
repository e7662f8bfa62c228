/**
 * The admin HTTP server cannot crash the proxy: a server error (a failed accept, EMFILE) is logged and it listens
 * on, a handler that throws answers 500, and malformed or reset requests are dropped.
 */
import assert from "node:assert/strict";
import type http from "node:http";
import net from "node:net";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import pino from "pino";
import { startAdminServer } from "../../../src/admin/http-server.ts";
import { ProxyMetrics } from "../../../src/admin/metrics.ts";

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
let server: http.Server;
let port: number;
let describeThrows = false;

before(async () => {
  server = await startAdminServer(
    { host: "127.0.0.1", port: 0 },
    new ProxyMetrics((apiKey) => `api${apiKey}`),
    {
      ready: () => true,
      describe: () => {
        if (describeThrows) throw new Error("status is broken");
        return { ok: true };
      },
    },
    log,
  );
  port = (server.address() as net.AddressInfo).port;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const get = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
};

test("a server error such as a failed accept (EMFILE) is logged, at a bounded rate, and the server serves on", async () => {
  const emfile = Object.assign(new Error("accept EMFILE"), { code: "EMFILE", syscall: "accept" });
  for (let i = 0; i < 100; i++) server.emit("error", emfile);
  const logged = lines.filter((line) => line.code === "EMFILE");
  assert.equal(logged.length, 1);
  assert.equal(logged[0]!.level, 40);
  assert.equal((await get("/healthz")).status, 200);
});

test("a handler that throws answers 500 and the server serves on", async () => {
  describeThrows = true;
  try {
    const answer = await get("/admin/status");
    assert.equal(answer.status, 500);
    assert.match(answer.body, /status is broken/);
  } finally {
    describeThrows = false;
  }
  assert.equal((await get("/admin/status")).status, 200);
});

test("malformed requests get a 400, resets mid-request are dropped", async () => {
  const answer = await new Promise<string>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("close", () => resolve(text));
    socket.on("error", () => {});
    socket.write("\x16\x03\x01 this is not HTTP\r\n\r\n");
  });
  assert.match(answer, /^HTTP\/1\.1 400/);
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(i % 2 ? "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /metr");
    socket.resetAndDestroy();
  }
  assert.equal((await get("/healthz")).status, 200);
});
