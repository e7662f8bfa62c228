import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface LoggerOptions {
  level: string;
  json: boolean;
  /** Where JSON lines go (standard output by default); text always goes to standard error. */
  destination?: DestinationStream;
}

/** Keys whose values are secrets wherever they appear in a logged object (config sections, errors, requests). */
export const SECRET_KEYS: readonly string[] = [
  "password",
  "key_password",
  "keyPassword",
  "passphrase",
  "token",
  "client_secret",
  "clientSecret",
  "secret",
  "stored_key",
  "storedKey",
  "server_key",
  "serverKey",
  "salt",
  "authBytes",
  "adminToken",
];

/** How deep below the logged object a secret key is still found. */
const SECRET_DEPTH = 8;

/** pino `redact` paths: every secret key at the top and at each depth below it (pino's `*` is one level). */
export function secretPaths(): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth <= SECRET_DEPTH; depth++) {
    const prefix = "*.".repeat(depth);
    for (const key of SECRET_KEYS) paths.push(`${prefix}${key}`);
  }
  return paths;
}

const REDACT = { paths: secretPaths(), censor: "[redacted]" };

/**
 * The root logger. Children follow its level (`setLogLevel`), so a reloaded `logging.level` reaches every
 * component and connection at once. Secret-bearing keys are redacted wherever they appear.
 */
export function createLogger(options: LoggerOptions): Logger {
  if (options.json || options.destination) {
    return pino(
      { level: options.level, base: { service: "kafka-partition-proxy" }, redact: REDACT },
      options.destination,
    );
  }
  return pino({
    level: options.level,
    base: undefined,
    redact: REDACT,
    transport: {
      target: "pino-pretty",
      options: {
        colorize: process.stderr.isTTY,
        translateTime: "HH:MM:ss.l",
        destination: 2,
        ignore: "pid,hostname",
      },
    },
  });
}

/** Changes the level of `root` and of every child made from it without a level of its own. */
export function setLogLevel(root: Logger, level: LogLevel): void {
  root.level = level;
}

export const silentLogger: Logger = pino({ level: "silent" });
