import http from "node:http";
import type { HostPort } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { ProxyMetrics } from "./metrics.ts";
import { type AdminApi, AdminError, type AdminReply } from "./routes.ts";

export interface AdminStatus {
  ready(): boolean;
  /** Why the proxy is or is not ready, per upstream cluster (the body of /readyz). */
  readiness?(): unknown;
  describe(): unknown;
}

/** Server errors logged at most once per this interval (a failing accept repeats for every connection attempt). */
const ERROR_LOG_INTERVAL_MS = 10_000;
/** The largest admin request body read; a larger one is answered 413. */
const MAX_BODY_BYTES = 1024 * 1024;

type Reply = (code: number, type: string, body: string, headers?: Record<string, string>) => void;

/**
 * The admin HTTP server: /metrics, /healthz, /readyz, /admin/status, and the JSON API of `routes`. Nothing a client or the system does to it
 * can crash the proxy: the server keeps an 'error' listener (a failed accept, EMFILE, is logged and the server
 * listens on), malformed requests and resets are answered or dropped by 'clientError', and a handler that
 * throws answers 500.
 */
export async function startAdminServer(
  address: HostPort,
  metrics: ProxyMetrics,
  status: AdminStatus,
  log: Logger,
  routes?: AdminApi,
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const reply: Reply = (code, type, body, headers) => {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(code, { "content-type": type, "cache-control": "no-store", ...headers });
      response.end(request.method === "HEAD" ? undefined : body);
    };
    try {
      if (!route(request, reply, metrics, status)) {
        if (routes) serveRoute(request, reply, routes, log);
        else reply(404, "text/plain", "not found: try /metrics, /healthz, /readyz, /admin/status\n");
      }
    } catch (error) {
      log.error({ err: error, path: request.url }, "admin request failed");
      reply(500, "text/plain", `internal error: ${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let lastErrorLogAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  server.on("error", (error: NodeJS.ErrnoException) => {
    const now = Date.now();
    if (now - lastErrorLogAt < ERROR_LOG_INTERVAL_MS) {
      unlogged++;
      return;
    }
    log.warn(
      { err: error.message, code: error.code, suppressed: unlogged },
      "admin server error; still listening",
    );
    lastErrorLogAt = now;
    unlogged = 0;
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    // A malformed request gets a 400 when the socket can still take it; a reset or timed-out client is dropped.
    if (error.code !== "ECONNRESET" && socket.writable && !socket.writableEnded) {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    } else {
      socket.destroy();
    }
  });
  log.info(
    { address: `${address.host}:${(server.address() as { port: number }).port}` },
    "admin server listening",
  );
  return server;
}

/** Serves the built-in paths; false when the path is none of them. */
function route(
  request: http.IncomingMessage,
  reply: Reply,
  metrics: ProxyMetrics,
  status: AdminStatus,
): boolean {
  const path = (request.url ?? "/").split("?")[0];
  if (path === "/metrics") {
    metrics.registry
      .metrics()
      .then((text) => reply(200, metrics.registry.contentType, text))
      .catch((error: Error) => reply(500, "text/plain", error.message));
  } else if (path === "/healthz") {
    reply(200, "text/plain", "ok\n");
  } else if (path === "/readyz") {
    const ready = status.ready();
    if (status.readiness) {
      reply(
        ready ? 200 : 503,
        "application/json",
        `${JSON.stringify({ ready, ...(status.readiness() as object) }, null, 2)}\n`,
      );
    } else {
      reply(ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready: no upstream metadata yet\n");
    }
  } else if (path === "/admin/status") {
    reply(200, "application/json", `${JSON.stringify(status.describe(), null, 2)}\n`);
  } else {
    return false;
  }
  return true;
}

function json(reply: Reply, code: number, value: unknown, headers?: Record<string, string>): void {
  reply(code, "application/json", `${JSON.stringify(value, null, 2)}\n`, headers);
}

/** Reads a JSON body of at most MAX_BODY_BYTES; undefined when the request has none. */
function readJsonBody(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AdminError(413, `request body over ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("error", reject);
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new AdminError(400, `request body is not JSON: ${(error as Error).message}`));
      }
    });
  });
}

/** Serves a registered route: state-changing ones only with the admin token; each such call is logged. */
function serveRoute(request: http.IncomingMessage, reply: Reply, routes: AdminApi, log: Logger): void {
  const url = new URL(request.url ?? "/", "http://admin");
  const method = request.method ?? "GET";
  const found = routes.match(method, url.pathname);
  if (found === undefined) {
    json(reply, 404, { error: `not found: ${url.pathname}`, routes: routes.list() });
    return;
  }
  if (found === "method") {
    json(reply, 405, { error: `${method} is not allowed on ${url.pathname}` });
    return;
  }
  const remote = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
  const authenticated = routes.accepts(request.headers.authorization);
  if (found.changesState && !authenticated) {
    const reason = routes.hasToken
      ? "this call changes state: send the admin token as 'Authorization: Bearer <token>'"
      : "this call changes state and admin.token is not configured, so it is disabled";
    log.warn({ method, path: url.pathname, remote }, `admin call refused: ${reason}`);
    json(reply, 401, { error: reason }, { "www-authenticate": 'Bearer realm="kafka-partition-proxy"' });
    return;
  }
  readJsonBody(request)
    .then((body) =>
      found.handler({
        method,
        path: url.pathname,
        params: found.params,
        query: url.searchParams,
        body,
        actor: { remote, authenticated },
      }),
    )
    .then(
      (answer: AdminReply) => {
        const code = answer.status ?? 200;
        if ("json" in answer) json(reply, code, answer.json);
        else reply(code, answer.type ?? "text/plain; charset=utf-8", answer.text);
        if (found.changesState) {
          log.info({ method, path: url.pathname, remote, status: code }, "admin action");
        }
      },
      (error: Error) => {
        const code = error instanceof AdminError ? error.status : 500;
        if (code >= 500) log.error({ err: error, method, path: url.pathname }, "admin request failed");
        else if (found.changesState) {
          log.info(
            { method, path: url.pathname, remote, status: code, error: error.message },
            "admin action refused",
          );
        }
        json(reply, code, { error: error.message });
      },
    );
}
