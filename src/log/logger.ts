import pino, { type Logger } from "pino";

export type { Logger };

export interface LoggerOptions {
  level: string;
  json: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  if (options.json) {
    return pino({ level: options.level, base: { service: "kafka-partition-proxy" } });
  }
  return pino({
    level: options.level,
    base: undefined,
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

export const silentLogger: Logger = pino({ level: "silent" });
