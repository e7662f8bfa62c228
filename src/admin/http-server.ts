import http from "node:http";
import type { HostPort } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { ProxyMetrics } from "./metrics.ts";

export interface AdminStatus {
  ready(): boolean;
  describe(): unknown;
}

export async function startAdminServer(
  address: HostPort,
  metrics: ProxyMetrics,
  status: AdminStatus,
  log: Logger,
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    const reply = (code: number, type: string, body: string) => {
      response.writeHead(code, { "content-type": type });
      response.end(body);
    };
    if (path === "/metrics") {
      metrics.registry
        .metrics()
        .then((text) => reply(200, metrics.registry.contentType, text))
        .catch((error: Error) => reply(500, "text/plain", error.message));
    } else if (path === "/healthz") {
      reply(200, "text/plain", "ok\n");
    } else if (path === "/readyz") {
      const ready = status.ready();
      reply(ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready: no upstream metadata yet\n");
    } else if (path === "/admin/status") {
      reply(200, "application/json", `${JSON.stringify(status.describe(), null, 2)}\n`);
    } else {
      reply(404, "text/plain", "not found: try /metrics, /healthz, /readyz, /admin/status\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  log.info(
    { address: `${address.host}:${(server.address() as { port: number }).port}` },
    "admin server listening",
  );
  return server;
}
