import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The V8 flags the product runs with (see bin/kafka-partition-proxy.js and `npm start`). */
const PROXY_NODE_FLAGS = (
  process.env.KPP_PROXY_NODE_FLAGS ?? "--max-semi-space-size=2 --initial-old-space-size=32"
)
  .split(" ")
  .filter(Boolean);

export interface ProxyProcess {
  bootstrap: string;
  port: number;
  adminPort: number;
  brokerPortBase: number;
  configFile: string;
  process: ChildProcess;
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill(): Promise<void>;
}

export interface StartProxyOptions {
  /** Upstream bootstrap servers, comma separated. */
  upstream: string;
  /**
   * Extra config merged over the generated one (e.g. mapping); `listen` and `metrics` keys merge into the generated
   * ones.
   */
  extra?: Record<string, unknown>;
  /** Fixed ports (to start a second instance with the same config). */
  port?: number;
  brokerPortBase?: number;
  brokerIdBase?: number;
  env?: NodeJS.ProcessEnv;
  /** Client-facing broker ports (node ids from brokerIdBase); 8 by default. */
  brokerSlots?: number;
  /** Runs the compiled build (dist/, from `npm run build`) as installed users do, instead of the TypeScript sources. */
  compiled?: boolean;
  /** Runs the compiled build of another checkout (its dist/src/cli.js), e.g. an older revision to compare with. */
  buildRoot?: string;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Finds `count` consecutive free ports. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portIsFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Starts the proxy as a child process (the real CLI with a YAML config) and waits until it is ready. */
export async function startProxy(options: StartProxyOptions): Promise<ProxyProcess> {
  const brokerSlots = options.brokerSlots ?? 8;
  const base = options.port ?? (await freePortRange(brokerSlots + 2));
  const adminPort = options.port ? await freePortRange(1) : base + brokerSlots + 1;
  const brokerPortBase = options.brokerPortBase ?? base + 1;
  const dir = mkdtempSync(path.join(tmpdir(), "kpp-proxy-"));
  const configFile = path.join(dir, "proxy.yaml");
  const { listen: extraListen, metrics: extraMetrics, ...extra } = options.extra ?? {};
  const config = {
    listen: {
      address: `127.0.0.1:${base}`,
      broker_port_base: brokerPortBase,
      broker_id_base: options.brokerIdBase ?? 0,
      broker_port_count: brokerSlots,
      ...(extraListen as object | undefined),
    },
    ...(extra.clusters
      ? { upstream: { metadata_refresh_interval_secs: 5 } }
      : { kafka: { bootstrap_servers: options.upstream.split(","), metadata_refresh_interval_secs: 5 } }),
    metrics: { enabled: true, address: `127.0.0.1:${adminPort}`, ...(extraMetrics as object | undefined) },
    logging: { level: "info", json: true },
    proxy: { shutdown_grace_ms: 3000 },
    ...extra,
  };
  writeFileSync(configFile, stringify(config));
  const entry = options.buildRoot
    ? path.join(options.buildRoot, "dist/src/cli.js")
    : options.compiled
      ? path.join(ROOT, "dist/src/cli.js")
      : path.join(ROOT, "src/cli.ts");
  const child = spawn(process.execPath, [...PROXY_NODE_FLAGS, entry, "--config", configFile], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const deadline = Date.now() + 30_000;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
      if (response.status === 200) {
        ready = true;
        break;
      }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!ready) {
    child.kill("SIGKILL");
    throw new Error(`proxy did not become ready:\n${output}`);
  }

  return {
    bootstrap: `127.0.0.1:${base}`,
    port: base,
    adminPort,
    brokerPortBase,
    configFile,
    process: child,
    logs: () => output,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      process.off("exit", killOnExit);
      return code;
    },
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      process.off("exit", killOnExit);
    },
  };
}
