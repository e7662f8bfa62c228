import { unwatchFile, watchFile } from "node:fs";
import type { PeerCertificate } from "node:tls";
import type { ClientSecuritySettings, SaslMechanismName } from "../config/security.ts";
import type { Logger } from "../log/logger.ts";
import { CredentialStore } from "./credentials.ts";
import { distinguishedName, PrincipalMapper } from "./principal-mapping.ts";
import { OAuthBearerValidator, oauthBearerServerExchange } from "./sasl/oauthbearer-server.ts";
import { plainServerExchange } from "./sasl/plain-server.ts";
import { scramServerExchange } from "./sasl/scram-server.ts";
import type { SaslServerExchange } from "./sasl/server.ts";

/** How often a changed credentials file is noticed (polled: works on every file system and with editors' renames). */
const CREDENTIALS_POLL_MS = 1000;

/**
 * Everything the proxy needs to authenticate clients (terminate mode): the enabled SASL mechanisms, the users'
 * credentials (reloaded when their file changes), the OAUTHBEARER token validator, and the mapping from a TLS
 * client certificate to a principal.
 */
export class ClientAuthenticator {
  readonly mechanisms: readonly SaslMechanismName[];
  private credentials: CredentialStore;
  private credentialsInput: Parameters<typeof CredentialStore.fromConfig>[0];
  private readonly oauth: OAuthBearerValidator | undefined;
  private readonly mapper: PrincipalMapper | undefined;
  private readonly settings: ClientSecuritySettings;
  private readonly log: Logger;
  private watching: string | undefined;

  constructor(settings: ClientSecuritySettings, log: Logger) {
    this.settings = settings;
    this.log = log;
    this.mechanisms = settings.sasl?.mechanisms ?? [];
    this.credentialsInput = (settings.sasl?.credentials ?? {}) as Parameters<
      typeof CredentialStore.fromConfig
    >[0];
    this.credentials = CredentialStore.fromConfig(this.credentialsInput);
    const oauth = settings.sasl?.oauthbearer;
    this.oauth = oauth && new OAuthBearerValidator(oauth);
    this.mapper = settings.tls ? PrincipalMapper.parse(settings.tls.principalMappingRules) : undefined;
  }

  /** A new server-side exchange of `mechanism`, or undefined when it is not enabled. */
  exchange(mechanism: string): SaslServerExchange | undefined {
    if (!this.mechanisms.includes(mechanism as SaslMechanismName)) return undefined;
    switch (mechanism as SaslMechanismName) {
      case "PLAIN":
        return plainServerExchange(this.credentials);
      case "SCRAM-SHA-256":
      case "SCRAM-SHA-512":
        return scramServerExchange(mechanism as "SCRAM-SHA-256" | "SCRAM-SHA-512", this.credentials);
      case "OAUTHBEARER":
        return this.oauth && oauthBearerServerExchange(this.oauth);
    }
  }

  /** The principal of a verified client certificate, by the mapping rules (throws when no rule applies). */
  principalOf(certificate: PeerCertificate): string {
    const name = distinguishedName(certificate);
    return this.mapper ? this.mapper.map(name) : name;
  }

  /** Re-reads the credentials file whenever it changes; a file that no longer parses keeps the old users. */
  watchCredentials(): void {
    const file = this.settings.sasl?.credentials.file;
    if (!file || this.watching) return;
    this.watching = file;
    watchFile(file, { interval: CREDENTIALS_POLL_MS, persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      this.reloadCredentials();
    });
  }

  /** Takes the users of a reloaded config (and re-reads the credentials file). */
  updateCredentials(settings: ClientSecuritySettings): void {
    this.credentialsInput = (settings.sasl?.credentials ?? {}) as Parameters<
      typeof CredentialStore.fromConfig
    >[0];
    this.reloadCredentials();
  }

  reloadCredentials(): void {
    try {
      this.credentials = CredentialStore.fromConfig(this.credentialsInput);
      this.log.info({ file: this.settings.sasl?.credentials.file }, "credentials reloaded");
    } catch (error) {
      this.log.error(
        { file: this.settings.sasl?.credentials.file, err: (error as Error).message },
        "credentials file not reloaded: it does not parse; the previous users stay",
      );
    }
  }

  stop(): void {
    if (this.watching) unwatchFile(this.watching);
    this.watching = undefined;
  }
}
