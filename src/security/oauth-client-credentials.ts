import type { UpstreamSaslSettings } from "../config/security.ts";
import type { Logger } from "../log/logger.ts";

type OAuthSettings = Extract<UpstreamSaslSettings, { mechanism: "OAUTHBEARER" }>;

/** A token is fetched again once this share of its lifetime has passed. */
const REFRESH_AT_SHARE = 0.8;

/**
 * Access tokens for the proxy's own OAUTHBEARER logins, from the OAuth 2 client-credentials grant (RFC 6749
 * §4.4), cached until most of their lifetime has passed; concurrent callers share one fetch.
 */
export class OAuthClientCredentials {
  private readonly settings: OAuthSettings;
  private readonly log: Logger;
  private cached: { token: string; refreshAt: number } | undefined;
  private fetching: Promise<string> | undefined;

  constructor(settings: OAuthSettings, log: Logger) {
    this.settings = settings;
    this.log = log;
  }

  token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return Promise.resolve(this.cached.token);
    this.fetching ??= this.fetchToken().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchToken(): Promise<string> {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.settings.scope) body.set("scope", this.settings.scope);
    if (this.settings.audience) body.set("audience", this.settings.audience);
    const basic = Buffer.from(
      `${encodeURIComponent(this.settings.clientId)}:${encodeURIComponent(this.settings.clientSecret)}`,
    ).toString("base64");
    const response = await fetch(this.settings.tokenEndpointUrl, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) {
      throw new Error(`token endpoint ${this.settings.tokenEndpointUrl} answered HTTP ${response.status}`);
    }
    const answer = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof answer.access_token !== "string") {
      throw new Error(`token endpoint ${this.settings.tokenEndpointUrl} sent no access_token`);
    }
    const lifetimeMs = typeof answer.expires_in === "number" ? answer.expires_in * 1000 : 60_000;
    this.cached = { token: answer.access_token, refreshAt: Date.now() + lifetimeMs * REFRESH_AT_SHARE };
    this.log.debug(
      { endpoint: this.settings.tokenEndpointUrl, lifetimeMs },
      "fetched an OAuth token for the brokers",
    );
    return answer.access_token;
  }
}
