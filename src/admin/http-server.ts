import http from "node:http";
import type { HostPort } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { ProxyMetrics } from "./metrics.ts";

export interface AdminStatus {
  ready(): boolean;
  /** Why the proxy is or is not ready, per upstream cluster (the body of /readyz). */
  readiness?(): unknown;
  describe(): unknown;
}

/** Server errors logged at most once per this interval (a failing accept repeats for every connection attempt). */
const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The admin HTTP server: /metrics, /healthz, /readyz, /admin/status. Nothing a client or the system does to it
 * can crash the proxy: the server keeps an 'error' listener (a failed accept, EMFILE, is logged and the server
 * listens on), malformed requests and resets are answered or dropped by 'clientError', and a handler that
 * throws answers 500.
 */
export async function startAdminServer(
  address: HostPort,
  metrics: ProxyMetrics,
  status: AdminStatus,
  log: Logger,
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const reply = (code: number, type: string, body: string) => {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(code, { "content-type": type });
      response.end(body);
    };
    try {
      route(request, reply, metrics, status);
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

function route(
  request: http.IncomingMessage,
  reply: (code: number, type: string, body: string) => void,
  metrics: ProxyMetrics,
  status: AdminStatus,
): void {
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
    reply(404, "text/plain", "not found: try /metrics, /healthz, /readyz, /admin/status\n");
  }
}
