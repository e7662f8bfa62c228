import { MavenResolutionError, MissingPrerequisiteError } from "../maven/resolve.ts";
import {
  ClusterError,
  killBroker,
  restartBroker,
  type Security,
  start,
  status,
  stop,
  tool,
} from "./cluster.ts";
import {
  brokerClasspath,
  distribution,
  KAFKA_VERSIONS,
  type KafkaVersion,
  toolsClasspath,
  UnknownVersionError,
} from "./versions.ts";

const USAGE = `usage: npm run -s kafka -- <command>
  start [--brokers 1|3] [--version 4|3.9] [--security plaintext|sasl_ssl] [--dir D]
  stop --dir D
  status --dir D
  kill-broker --dir D --id N [--signal SIGTERM]
  restart-broker --dir D --id N
  tool <name|main.Class> [--dir D | --bootstrap B] [--version 4|3.9] -- args...
  warm [--verify true]   resolve (and check) every broker and tools classpath`;

function parseFlags(argv: string[]): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const [key, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      const value = inline ?? argv[++i];
      if (value === undefined) throw new ClusterError(`--${key} needs a value`);
      flags.set(key, value);
    } else {
      rest.push(arg);
    }
  }
  return { flags, rest };
}

function required(flags: Map<string, string>, name: string): string {
  const value = flags.get(name);
  if (value === undefined) throw new ClusterError(`--${name} is required\n${USAGE}`);
  return value;
}

const stderrLog = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "start": {
      const { flags } = parseFlags(args);
      const version = (flags.get("version") ?? "4") as KafkaVersion;
      distribution(version);
      const info = await start({
        brokers: Number(flags.get("brokers") ?? "1"),
        version,
        security: (flags.get("security") ?? "plaintext") as Security,
        ...(flags.has("dir") ? { dir: flags.get("dir")! } : {}),
        log: stderrLog,
      });
      process.stdout.write(`${JSON.stringify(info)}\n`);
      return 0;
    }
    case "stop": {
      await stop(required(parseFlags(args).flags, "dir"));
      return 0;
    }
    case "status": {
      const result = status(required(parseFlags(args).flags, "dir"));
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return result.running ? 0 : 3;
    }
    case "kill-broker": {
      const { flags } = parseFlags(args);
      const signal = (flags.get("signal") ?? "SIGKILL") as NodeJS.Signals;
      await killBroker(required(flags, "dir"), Number(required(flags, "id")), signal);
      return 0;
    }
    case "restart-broker": {
      const { flags } = parseFlags(args);
      await restartBroker(required(flags, "dir"), Number(required(flags, "id")));
      return 0;
    }
    case "tool": {
      const [name, ...toolArgs] = args;
      if (!name || name.startsWith("-")) throw new ClusterError(`tool needs a name\n${USAGE}`);
      const { flags, rest } = parseFlags(toolArgs);
      const result = await tool(name, rest, {
        ...(flags.has("dir") ? { dir: flags.get("dir")! } : {}),
        ...(flags.has("bootstrap") ? { bootstrap: flags.get("bootstrap")! } : {}),
        ...(flags.has("version") ? { version: flags.get("version") as KafkaVersion } : {}),
        stdio: "inherit",
        timeoutMs: Number(flags.get("timeout-ms") ?? 24 * 3600_000),
      });
      return result.exitCode ?? 1;
    }
    case "warm": {
      const verify = parseFlags(args).flags.get("verify") !== "false";
      for (const version of KAFKA_VERSIONS) {
        for (const [kind, resolve] of [
          ["broker", brokerClasspath],
          ["tools", toolsClasspath],
        ] as const) {
          const started = performance.now();
          const jars = await resolve(version, { verify, log: stderrLog });
          stderrLog(
            `${kind} ${version}: ${jars.length} jars in ${Math.round(performance.now() - started)} ms`,
          );
        }
      }
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new ClusterError(`unknown command "${command}"\n${USAGE}`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const known =
    error instanceof MissingPrerequisiteError ||
    error instanceof MavenResolutionError ||
    error instanceof ClusterError ||
    error instanceof UnknownVersionError;
  process.stderr.write(`${known ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`);
  process.exitCode = known ? 2 : 1;
}
