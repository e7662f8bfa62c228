import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { UpstreamSaslSettings, UpstreamSecuritySettings } from "../config/security.ts";
import type { Logger } from "../log/logger.ts";
import type { Authenticate, AuthenticationChannel, UpstreamSecurity } from "../net/upstream.ts";
import { ApiKey, ErrorCode, kafkaError } from "../protocol/api.ts";
import {
  API_VERSIONS_PROBE,
  brokerVersionsOf,
  PROBE_VERSION,
  pickVersion,
} from "../topology/api-versions.ts";

import { OAuthClientCredentials } from "./oauth-client-credentials.ts";
import { saslClientExchange } from "./sasl/client.ts";

const errorName = (code: number): string => kafkaError(code)?.name ?? `error ${code}`;

export class UpstreamAuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamAuthenticationError";
  }
}

/**
 * The SASL exchange the proxy runs on each new broker connection, with its own credentials: ApiVersions (to
 * pick versions), SaslHandshake, then SaslAuthenticate rounds until the mechanism is done. Resolves to the
 * session lifetime the broker gave (0: none).
 */
export function saslAuthenticator(settings: UpstreamSaslSettings, log: Logger): Authenticate {
  const tokens = settings.mechanism === "OAUTHBEARER" ? new OAuthClientCredentials(settings, log) : undefined;
  return async (channel: AuthenticationChannel): Promise<number> => {
    const versions = brokerVersionsOf(
      await channel.request(ApiKey.ApiVersions, PROBE_VERSION, API_VERSIONS_PROBE),
    );
    const handshakeVersion = pickVersion(ApiKey.SaslHandshake, channel.label, versions);
    const authenticateVersion = pickVersion(ApiKey.SaslAuthenticate, channel.label, versions);
    const handshake = await channel.request(ApiKey.SaslHandshake, handshakeVersion, {
      mechanism: settings.mechanism,
    });
    if (handshake.errorCode !== ErrorCode.NONE) {
      throw new UpstreamAuthenticationError(
        `${settings.mechanism} refused (${errorName(handshake.errorCode)}); the broker offers ${handshake.mechanisms.join(", ")}`,
      );
    }
    const exchange =
      settings.mechanism === "OAUTHBEARER"
        ? saslClientExchange({ mechanism: "OAUTHBEARER", token: await tokens!.token() })
        : saslClientExchange(settings);
    let payload: Buffer | undefined = exchange.initial();
    let lifetimeMs = 0;
    while (payload !== undefined) {
      const answer = await channel.request(ApiKey.SaslAuthenticate, authenticateVersion, {
        authBytes: payload,
      });
      if (answer.errorCode !== ErrorCode.NONE) {
        throw new UpstreamAuthenticationError(
          `${settings.mechanism} as the proxy's user failed: ${errorName(answer.errorCode)}${answer.errorMessage ? `: ${answer.errorMessage}` : ""}`,
        );
      }
      lifetimeMs = Number(answer.sessionLifetimeMs ?? 0n);
      payload = exchange.next(answer.authBytes);
      if (payload === undefined) exchange.finish(answer.authBytes);
    }
    log.debug(
      { broker: channel.label, mechanism: settings.mechanism, lifetimeMs },
      "authenticated to broker",
    );
    return lifetimeMs;
  };
}

/** Node TLS options for broker connections, from the config's paths (files are read now, at start). */
export function upstreamTlsOptions(settings: UpstreamSecuritySettings["tls"]): ConnectionOptions | undefined {
  if (!settings) return undefined;
  const options: ConnectionOptions = { rejectUnauthorized: !settings.insecureSkipVerify };
  if (settings.caCertPath) options.ca = readFileSync(settings.caCertPath);
  if (settings.certPath) options.cert = readFileSync(settings.certPath);
  if (settings.keyPath) options.key = readFileSync(settings.keyPath);
  if (settings.keyPassword) options.passphrase = settings.keyPassword;
  if (settings.serverName) options.servername = settings.serverName;
  if (settings.insecureSkipVerify) options.checkServerIdentity = () => undefined;
  return options;
}

/** How the proxy's connections to one cluster are secured: TLS, and SASL with the proxy's own credentials. */
export function upstreamSecurity(settings: UpstreamSecuritySettings, log: Logger): UpstreamSecurity {
  return {
    tls: upstreamTlsOptions(settings.tls),
    authenticate: settings.sasl ? saslAuthenticator(settings.sasl, log) : undefined,
  };
}
