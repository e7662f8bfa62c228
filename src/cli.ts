import { parseArgs } from "node:util";
import { composeProxy } from "./composition.ts";
import { buildConfig, ConfigError, loadConfigFile, type ProxyConfig } from "./config/load.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import type { ProxyServer } from "./proxy/server.ts";

const USAGE = `kafka-partition-proxy: a Kafka-protocol proxy with partition virtualization

Usage:
  kafka-partition-proxy --config FILE     run the proxy with a YAML config
  kafka-partition-proxy                   (from a checkout) start a local dev Kafka and the proxy in front of it

Options:
  -c, --config FILE   configuration file (YAML)
  --listen HOST:PORT  override listen.address
  -h, --help          show this help
`;

interface DevCluster {
  bootstrap: string;
  stop(): Promise<void>;
}

async function startDevKafka(log: Logger): Promise<DevCluster> {
  log.info("starting a local dev Kafka (1 broker); the first run downloads Kafka from Maven Central");
  const harness = await import("./dev/dev-kafka.ts");
  return harness.startDevCluster();
}

function printConnectHelp(config: ProxyConfig, server: ProxyServer, devBootstrap: string | undefined): void {
  const bootstrap = `${config.advertisedHost}:${server.bootstrapPort}`;
  const lines = [
    "",
    `kafka-partition-proxy is ready. Point any Kafka client at bootstrap.servers=${bootstrap}`,
    devBootstrap ? `  (dev Kafka behind it: ${devBootstrap})` : "",
    "",
    "Try it:",
    `  npm run -s kafka -- tool kafka-topics -- --bootstrap-server ${bootstrap} --create --topic demo --partitions 3`,
    `  npm run -s kafka -- tool kafka-console-producer -- --bootstrap-server ${bootstrap} --topic demo`,
    `  npm run -s kafka -- tool kafka-console-consumer -- --bootstrap-server ${bootstrap} --topic demo --from-beginning`,
    config.metrics.enabled
      ? `Metrics: http://${config.metrics.address.host}:${config.metrics.address.port}/metrics`
      : "",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(`${lines.filter((l, i, all) => l !== "" || all[i - 1] !== "").join("\n")}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        listen: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let config: ProxyConfig;
  let dev: DevCluster | undefined;
  try {
    if (typeof args.values.config === "string") {
      config = loadConfigFile(args.values.config);
    } else {
      dev = await startDevKafka(createLogger({ level: "info", json: false }));
      config = buildConfig(
        { kafka: { bootstrap_servers: dev.bootstrap }, logging: { json: false } },
        "dev defaults",
      );
    }
    if (typeof args.values.listen === "string") {
      config = buildConfig(
        { ...config.raw, listen: { ...config.raw.listen, address: args.values.listen } },
        "--listen",
      );
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    process.stderr.write(`${(error as Error).message}\n`);
    await dev?.stop();
    return 1;
  }

  const log = createLogger(config.logging);
  let server: ProxyServer;
  try {
    server = composeProxy(config, log);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await dev?.stop();
    return 2;
  }
  let signalled: string | undefined;
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  try {
    await server.start();
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "cannot start the proxy");
    await server.stop();
    await dev?.stop();
    return 1;
  }
  if (!signalled) printConnectHelp(config, server, dev?.bootstrap);

  await new Promise<void>((resolve) => {
    onSignal = (signal: string) => {
      onSignal = () => {};
      log.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
      server
        .stop()
        .then(() => dev?.stop())
        .catch((error: Error) => log.error({ err: error.message }, "error during shutdown"))
        .finally(resolve);
    };
    if (signalled) onSignal(signalled);
  });
  log.flush?.();
  return 0;
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), 200).unref();
