import type { ExchangeInfo } from "../../feature-api/feature.ts";
import type { Logger } from "../../log/logger.ts";
import { apiName } from "../../protocol/api.ts";
import type { Denial } from "./access.ts";

/** At most this many lines per window, across connections; the next line counts those left out. */
const LINES_PER_WINDOW = 10;
const WINDOW_MS = 10_000;
/** Names listed per denial in a line; the rest are counted. */
const NAMES_PER_DENIAL = 10;

/**
 * Logs each refused request in one line: principal, client address and id, API, and per denial the operation,
 * the resource type and the names. Lines are rate-limited: a client retrying a refused request in a loop
 * cannot flood the log.
 */
export class DenialLog {
  private readonly now: () => number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private lines = 0;
  private unlogged = 0;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  refused(log: Logger, exchange: ExchangeInfo, denials: readonly Denial[], reason?: string): void {
    const now = this.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= LINES_PER_WINDOW) {
      this.unlogged++;
      return;
    }
    this.lines++;
    const connection = exchange.connection;
    const fields: Record<string, unknown> = {
      principal: connection.principal ?? null,
      client: connection.remote,
      clientId: connection.clientId,
      api: apiName(exchange.apiKey),
      version: exchange.apiVersion,
      denied: denials.map((denial) => ({
        operation: denial.operation,
        resource: denial.resource,
        names: denial.names.slice(0, NAMES_PER_DENIAL),
        ...(denial.names.length > NAMES_PER_DENIAL ? { more: denial.names.length - NAMES_PER_DENIAL } : {}),
      })),
    };
    if (reason !== undefined) fields.reason = reason;
    if (this.unlogged > 0) fields.unloggedRefusals = this.unlogged;
    this.unlogged = 0;
    const who =
      connection.principal === undefined ? "an anonymous client" : `principal "${connection.principal}"`;
    log.warn(fields, `authorization refused ${who} ${apiName(exchange.apiKey)}`);
  }
}
