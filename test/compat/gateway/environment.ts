import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KafkaVersion, ToolOptions, ToolResult } from "../../../scripts/kafka/cluster.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, type StartProxyOptions, startProxy } from "../../helpers/proxy.ts";

/**
 * A real Kafka cluster with the proxy in front of it. Clients under test use `bootstrap` (the proxy);
 * `KPP_COMPAT_DIRECT=1` points them at the brokers instead, to tell client problems from proxy problems;
 * `KPP_COMPAT_PROXY_LOGS=<dir>` keeps each proxy's log there.
 */
export interface Gateway {
  bootstrap: string;
  directBootstrap: string;
  version: KafkaVersion;
  cluster: KafkaTestCluster;
  proxy: ProxyProcess | undefined;
  /** Runs a Kafka CLI tool against the proxy (or the brokers when `direct`). */
  tool(name: string, args: string[], options?: GatewayToolOptions): Promise<ToolResult>;
  killBroker(id: number): Promise<void>;
  restartBroker(id: number): Promise<void>;
  uniqueName(prefix: string): string;
  /** Proxy logs, or "" when running direct. */
  logs(): string;
  close(): Promise<void>;
}

export interface GatewayToolOptions extends Omit<ToolOptions, "dir" | "bootstrap" | "version"> {
  direct?: boolean;
}

export interface GatewayOptions {
  brokers?: number;
  version?: KafkaVersion;
  /** A cluster of this file's own, needed to kill or restart brokers (see useKafkaCluster). */
  exclusive?: boolean;
  proxy?: Omit<StartProxyOptions, "upstream">;
}

export class ToolFailedError extends Error {
  override name = "ToolFailedError";
}

export const runsDirect = process.env.KPP_COMPAT_DIRECT === "1";

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const version = options.version ?? "4";
  const cluster = await useKafkaCluster({
    brokers: options.brokers ?? 3,
    version,
    exclusive: options.exclusive ?? false,
  });
  /** A shared cluster stays for the run's other files; the run stops it. */
  const release = async () => {
    if (!cluster.shared) await cluster.stop();
  };
  let proxy: ProxyProcess | undefined;
  try {
    if (!runsDirect) proxy = await startProxy({ upstream: cluster.bootstrap, ...options.proxy });
  } catch (error) {
    await release();
    throw error;
  }
  const bootstrap = proxy?.bootstrap ?? cluster.bootstrap;
  return {
    bootstrap,
    directBootstrap: cluster.bootstrap,
    version,
    cluster,
    proxy,
    tool: (name, args, toolOptions = {}) =>
      cluster.tool(name, args, {
        ...toolOptions,
        bootstrap: toolOptions.direct ? cluster.bootstrap : bootstrap,
        version,
      }),
    killBroker: (id) => cluster.killBroker(id),
    restartBroker: (id) => cluster.restartBroker(id),
    uniqueName: (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`,
    logs: () => proxy?.logs() ?? "",
    async close() {
      try {
        await proxy?.stop();
        const keepLogsIn = process.env.KPP_COMPAT_PROXY_LOGS;
        if (proxy && keepLogsIn) {
          mkdirSync(keepLogsIn, { recursive: true });
          writeFileSync(join(keepLogsIn, `proxy-${proxy.port}.log`), proxy.logs());
        }
      } finally {
        await release();
      }
    },
  };
}

/** Runs a tool and fails with its output when it exits non-zero or times out. */
export async function runTool(
  gateway: Gateway,
  name: string,
  args: string[],
  options: GatewayToolOptions = {},
): Promise<ToolResult> {
  const result = await gateway.tool(name, args, { timeoutMs: 90_000, ...options });
  if (result.exitCode !== 0 || result.timedOut) {
    const why = result.timedOut ? "timed out" : `exited with ${result.exitCode}`;
    throw new ToolFailedError(
      `${name} ${args.join(" ")} ${why}\n--- stdout\n${tail(result.stdout)}\n--- stderr\n${tail(result.stderr)}`,
    );
  }
  return result;
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects after `timeoutMs` with a message naming `what`. */
export async function within<T>(what: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
