import { randomBytes } from "node:crypto";
import { watchFile } from "node:fs";
import { parseArgs } from "node:util";
import { composeProxy } from "./composition.ts";
import { buildConfig, ConfigError, loadConfigFile, type ProxyConfig } from "./config/load.ts";
import { RESET_OFFSETS_USAGE, resetOffsetsCommand } from "./features/offset-reset/command.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import type { ProxyServer } from "./proxy/server.ts";
import { addStoredUser } from "./security/credentials.ts";
import { isScramMechanism, SCRAM_MECHANISMS, type ScramMechanism } from "./security/scram.ts";

const USAGE = `kafka-partition-proxy: a Kafka-protocol proxy with partition virtualization

Usage:
  kafka-partition-proxy --config FILE     run the proxy with a YAML config
  kafka-partition-proxy --config FILE --check
                                          validate the config (and that every file it names can be read):
                                          exit 0, or 2 naming every problem
  kafka-partition-proxy                   (from a checkout) start a local dev Kafka and the proxy in front of it
  kafka-partition-proxy scram add --file F --user U [--mechanism SCRAM-SHA-512] [--iterations 8192]
                                          store salted SCRAM credentials for U in the credentials file F
                                          (the password is read from stdin, or KPP_SCRAM_PASSWORD)
${RESET_OFFSETS_USAGE}
Options:
  -c, --config FILE   configuration file (YAML)
  --check             validate the config and exit
  --listen HOST:PORT  override listen.address
  -h, --help          show this help
`;

/** `scram add`: writes one user's salted credentials (both mechanisms when none is named). */
async function scramCommand(argv: string[]): Promise<number> {
  let values: { file?: string; user?: string; mechanism?: string; iterations?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: "string" },
        user: { type: "string" },
        mechanism: { type: "string" },
        iterations: { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!values.file || !values.user) {
    process.stderr.write(`scram add needs --file and --user\n\n${USAGE}`);
    return 2;
  }
  const mechanisms = values.mechanism ? [values.mechanism] : [...SCRAM_MECHANISMS];
  for (const mechanism of mechanisms) {
    if (!isScramMechanism(mechanism)) {
      process.stderr.write(`--mechanism: ${mechanism} is not SCRAM-SHA-256 or SCRAM-SHA-512\n`);
      return 2;
    }
  }
  const password = process.env.KPP_SCRAM_PASSWORD ?? (await readStdin()).replace(/\r?\n$/, "");
  try {
    for (const mechanism of mechanisms) {
      addStoredUser(
        values.file,
        values.user,
        mechanism as ScramMechanism,
        password,
        values.iterations === undefined ? undefined : Number(values.iterations),
      );
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(
    `stored ${mechanisms.join(" and ")} credentials for ${values.user} in ${values.file}\n`,
  );
  return 0;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk: string) => {
      text += chunk;
    });
    process.stdin.on("end", () => resolve(text));
    process.stdin.on("error", reject);
  });
}

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
    ...(config.metrics.enabled
      ? [
          `Dashboard: http://${config.metrics.address.host}:${config.metrics.address.port}/   ` +
            `metrics: /metrics   admin API: /api (docs/admin-api.md)`,
          devBootstrap && config.adminToken
            ? `Admin token of this dev run (state-changing calls, e.g. reset-offsets --token): ${config.adminToken}`
            : "",
        ]
      : []),
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(`${lines.filter((l, i, all) => l !== "" || all[i - 1] !== "").join("\n")}\n`);
}

/** Unhandled rejections logged in full per minute; the others are counted in the next line and the metric. */
const REJECTIONS_LOGGED_PER_MINUTE = 10;
/** After an uncaught exception, the graceful close gets the shutdown grace plus this, then the process exits anyway. */
const EXIT_DEADLINE_SLACK_MS = 5000;

/**
 * The process's policy for bugs that escape every handler (docs/operations.md):
 * - an unhandled promise rejection is logged with its stack (at most REJECTIONS_LOGGED_PER_MINUTE a minute) and
 *   the proxy serves on: a rejection is a failed operation whose caller did not wait for it, and the runtime's
 *   state is intact;
 * - an uncaught exception is logged (fatal, with its stack), then the proxy closes gracefully as on SIGTERM
 *   (in-flight requests answered within proxy.shutdown_grace_ms) and exits with code 1, for the supervisor to
 *   restart it: the exception unwound some handler halfway, so the state it left cannot be trusted.
 */
function guardProcess(
  log: Logger,
  server: () => ProxyServer | undefined,
  fail: (error: unknown) => void,
  graceMs: number,
): void {
  let windowStart = Number.NEGATIVE_INFINITY;
  let loggedInWindow = 0;
  let suppressed = 0;
  process.on("unhandledRejection", (reason) => {
    server()?.metrics.processErrors.labels("unhandled_rejection").inc();
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      if (suppressed > 0) log.error({ suppressed }, "more unhandled promise rejections were not logged");
      windowStart = now;
      loggedInWindow = 0;
      suppressed = 0;
    }
    if (loggedInWindow++ >= REJECTIONS_LOGGED_PER_MINUTE) {
      suppressed++;
      return;
    }
    log.error(
      reason instanceof Error ? { err: reason } : { reason: String(reason) },
      "unhandled promise rejection (a bug): logged, and the proxy serves on",
    );
  });
  let uncaught = 0;
  process.on("uncaughtException", (error) => {
    server()?.metrics.processErrors.labels("uncaught_exception").inc();
    uncaught++;
    if (uncaught > 1) {
      if (uncaught <= 5) log.error({ err: error }, "another uncaught exception while closing");
      return;
    }
    log.fatal({ err: error }, "uncaught exception (a bug): closing gracefully, then exiting with code 1");
    setTimeout(() => {
      log.flush?.();
      process.exit(1);
    }, graceMs + EXIT_DEADLINE_SLACK_MS).unref();
    fail(error);
  });
}

/** How often a changed config file is noticed (polled, as editors and config maps replace files). */
const CONFIG_POLL_MS = 1000;

/**
 * Reads the config file again and applies its reloadable parts (`ProxyServer.reload`); a file that no longer
 * validates is logged with every problem (each naming its field path) and the running config stays.
 * `override` re-applies the command line's settings over the file's.
 */
function reloadConfigFile(
  file: string,
  server: ProxyServer,
  log: Logger,
  trigger: string,
  override: (config: ProxyConfig) => ProxyConfig,
): void {
  let config: ProxyConfig;
  try {
    config = override(loadConfigFile(file, process.env, { checkFiles: true }));
  } catch (error) {
    log.error(
      { file, trigger, problems: error instanceof ConfigError ? error.problems : [(error as Error).message] },
      "config file does not validate: nothing reloaded, the running config stays",
    );
    return;
  }
  log.info({ file, trigger }, "reloading the config file");
  server.reload(config).catch((error: Error) => log.error({ file, err: error.message }, "reload failed"));
}

/** Reloads on SIGHUP and whenever the file changes (polled, as editors and config maps replace files). */
function watchConfigFile(
  file: string,
  server: ProxyServer,
  log: Logger,
  override: (config: ProxyConfig) => ProxyConfig,
): void {
  watchFile(file, { interval: CONFIG_POLL_MS, persistent: false }, (now, before) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    reloadConfigFile(file, server, log, "file changed", override);
  });
  process.on("SIGHUP", () => reloadConfigFile(file, server, log, "SIGHUP", override));
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "reset-offsets") return resetOffsetsCommand(argv.slice(1));
  if (argv[0] === "scram") {
    if (argv[1] === "add") return scramCommand(argv.slice(2));
    process.stderr.write(`unknown scram command ${argv[1] ?? ""}\n\n${USAGE}`);
    return 2;
  }
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        listen: { type: "string" },
        check: { type: "boolean" },
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

  const listenOverride = args.values.listen;
  const overrideListen = (loaded: ProxyConfig): ProxyConfig =>
    typeof listenOverride === "string"
      ? buildConfig({ ...loaded.raw, listen: { ...loaded.raw.listen, address: listenOverride } }, "--listen")
      : loaded;
  let config: ProxyConfig;
  let dev: DevCluster | undefined;
  try {
    if (typeof args.values.config === "string") {
      config = loadConfigFile(args.values.config, process.env, { checkFiles: true });
    } else {
      dev = await startDevKafka(createLogger({ level: "info", json: false }));
      config = buildConfig(
        {
          kafka: { bootstrap_servers: dev.bootstrap },
          logging: { json: false },
          admin: { token: randomBytes(16).toString("hex") },
        },
        "dev defaults",
      );
    }
    config = overrideListen(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    process.stderr.write(`${(error as Error).message}\n`);
    await dev?.stop();
    return 1;
  }
  if (args.values.check) {
    try {
      composeProxy(config, createLogger({ level: "silent", json: true }));
    } catch (error) {
      process.stderr.write(
        `invalid configuration in ${args.values.config}:\n  - ${(error as Error).message}\n`,
      );
      return 2;
    }
    for (const warning of config.warnings) process.stdout.write(`warning: ${warning}\n`);
    process.stdout.write(`${args.values.config ?? "the config"}: ok\n`);
    return 0;
  }

  const log = createLogger(config.logging);
  let server: ProxyServer | undefined;
  let signalled: string | undefined;
  let exitCode = 0;
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
  };
  guardProcess(
    log,
    () => server,
    () => {
      exitCode = 1;
      onSignal("uncaught exception");
    },
    config.shutdownGraceMs,
  );
  try {
    server = composeProxy(config, log);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await dev?.stop();
    return 2;
  }
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
  if (typeof args.values.config === "string")
    watchConfigFile(args.values.config, server, log, overrideListen);

  const running = server;
  await new Promise<void>((resolve) => {
    onSignal = (signal: string) => {
      onSignal = () => {};
      log.info({ signal }, "shutting down: no new connections, finishing in-flight requests");
      running
        .stop()
        .then(() => dev?.stop())
        .catch((error: Error) => log.error({ err: error.message }, "error during shutdown"))
        .finally(resolve);
    };
    if (signalled) onSignal(signalled);
  });
  log.flush?.();
  return exitCode;
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), 200).unref();
