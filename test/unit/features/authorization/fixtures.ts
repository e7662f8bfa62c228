import { Writable } from "node:stream";
import pino from "pino";
import type { Feature } from "../../../../src/feature-api/feature.ts";
import {
  type AuthorizationOptions,
  createAuthorization,
  parseAuthorization,
} from "../../../../src/features/authorization/index.ts";
import type { Logger } from "../../../../src/log/logger.ts";
import { type ApiKey, apiInfo, type RequestOf } from "../../../../src/protocol/api.ts";
import { exchange, type FakeBroker, fakeConnection } from "../../../helpers/chain-harness.ts";

/** The config every test starts from: alice works on tenant-a topics and groups, bob on his own, admin is a super user. */
export const CONFIG = {
  super_users: ["admin"],
  principals: {
    alice: {
      rules: [
        {
          effect: "allow",
          resource: "topic",
          pattern: "tenant-a.",
          pattern_type: "prefixed",
          operations: ["read", "write", "describe", "create"],
        },
        { effect: "deny", resource: "topic", pattern: "tenant-a.secret", operations: ["all"] },
        {
          effect: "allow",
          resource: "group",
          pattern: "tenant-a.",
          pattern_type: "prefixed",
          operations: ["read", "delete"],
        },
        { effect: "allow", resource: "transactional_id", pattern: "tenant-a.tx", operations: ["write"] },
      ],
    },
    bob: {
      rules: [{ effect: "allow", resource: "topic", pattern: "bob", operations: ["read"] }],
    },
  },
};

/** Log lines written at warn and above, parsed. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: "warn" }, stream), lines };
}

export function authorization(
  config: unknown = CONFIG,
  options: AuthorizationOptions = {},
  log: Logger = capturingLogger().log,
): Feature {
  return createAuthorization(parseAuthorization(config), log, options);
}

export function latest(apiKey: ApiKey): number {
  return apiInfo(apiKey)!.maxVersion;
}

export const noBroker: FakeBroker = () => {
  throw new Error("the request reached the broker");
};

/** One request from `principal` through the feature alone, in front of `broker`. */
export function send<K extends ApiKey>(
  feature: Feature,
  principal: string | undefined,
  apiKey: K,
  version: number,
  request: RequestOf<K>,
  broker: FakeBroker = noBroker,
) {
  return exchange([feature], apiKey, version, request, broker, fakeConnection({ principal }));
}

// biome-ignore lint/suspicious/noExplicitAny: a decoded message of any API
export type Body = any;

/** Waits for the log stream to deliver what was written. */
export function flushed(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
