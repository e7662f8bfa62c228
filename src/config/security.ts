import { accessSync, constants, readFileSync } from "node:fs";
import { z } from "zod";
import { bool, int } from "./coerce.ts";

const filePath = z.string().min(1, "a file path");
const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export const securityProtocolSchema = z.enum(SECURITY_PROTOCOLS);

export const CLIENT_SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] as const;
export type SaslMechanismName = (typeof CLIENT_SASL_MECHANISMS)[number];
export type ScramMechanismName = "SCRAM-SHA-256" | "SCRAM-SHA-512";

const storedScram = z
  .object({
    salt: z.string().min(1),
    iterations: int(4096),
    stored_key: z.string().min(1),
    server_key: z.string().min(1),
    mechanism: z.enum(["SCRAM-SHA-256", "SCRAM-SHA-512"]).optional(),
  })
  .strict();

/** A user of `listen.security.sasl.credentials.users`: a password, or stored SCRAM credentials (base64). */
const userEntry = z.union([
  z.string().min(1),
  z.object({ password: z.string().min(1) }).strict(),
  storedScram,
  z
    .object({
      "SCRAM-SHA-256": storedScram.omit({ mechanism: true }).optional(),
      "SCRAM-SHA-512": storedScram.omit({ mechanism: true }).optional(),
    })
    .strict(),
]);
export type UserEntryInput = z.output<typeof userEntry>;

export const listenSecuritySchema = z
  .object({
    protocol: securityProtocolSchema.default("PLAINTEXT"),
    /**
     * terminate: the proxy authenticates clients and uses its own credentials towards the brokers.
     * passthrough: each client's SASL exchange goes to the broker on that client's own connections.
     */
    mode: z.enum(["terminate", "passthrough"]).default("terminate"),
    /** A connection that has not authenticated this long after connecting is closed. */
    authentication_timeout_ms: int(1).default(10_000),
    /**
     * Like the broker's `connections.max.reauth.ms` (KIP-368): a SASL session lasts at most this long (or until
     * its OAUTHBEARER token expires, if sooner); the client must re-authenticate before, or its connection is
     * closed. 0: sessions never expire.
     */
    connections_max_reauth_ms: int(0).default(0),
    tls: z
      .object({
        cert_path: filePath,
        key_path: filePath,
        key_password: z.string().optional(),
        /** CAs that sign client certificates (mTLS). */
        ca_cert_path: filePath.optional(),
        require_client_cert: bool().optional(),
        /** none, requested (verified when sent) or required; default: required with require_client_cert. */
        client_auth: z.enum(["none", "requested", "required"]).optional(),
        principal: z
          .object({ mapping_rules: oneOrMany.default("DEFAULT") })
          .strict()
          .prefault({}),
        /**
         * One TLS port for every broker: clients reach node n at the host name made from `broker_host_pattern`
         * (`$(nodeId)` stands for the node id), and the bootstrap at `bootstrap_host`, all on listen.address.
         */
        sni: z
          .object({
            bootstrap_host: z.string().min(1),
            broker_host_pattern: z.string().includes("$(nodeId)", { message: "must contain $(nodeId)" }),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    sasl: z
      .object({
        enabled_mechanisms: z.array(z.enum(CLIENT_SASL_MECHANISMS)).min(1).default(["PLAIN"]),
        credentials: z
          .object({
            /** `user:password` lines (# comments), or the proxy's stored SCRAM lines (`scram add`). */
            file: filePath.optional(),
            users: z.record(z.string().min(1), userEntry).default({}),
          })
          .strict()
          .prefault({}),
        oauthbearer: z
          .object({
            jwks_url: z.string().url().optional(),
            jwks_path: filePath.optional(),
            public_key_path: filePath.optional(),
            issuer: z.string().optional(),
            audience: oneOrMany.optional(),
            required_scopes: z.array(z.string().min(1)).default([]),
            clock_skew_seconds: int(0).default(30),
            principal_claim: z.string().min(1).default("sub"),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const upstreamTlsSchema = z
  .object({
    /** CAs to trust; the system store when absent. */
    ca_cert_path: filePath.optional(),
    /** A client certificate and key, for brokers that require mTLS. */
    cert_path: filePath.optional(),
    key_path: filePath.optional(),
    key_password: z.string().optional(),
    /** Turns off certificate and host name verification (logged as a warning at start). */
    insecure_skip_verify: bool().default(false),
    /** The name to verify and send as SNI, when not the broker's advertised host. */
    server_name: z.string().min(1).optional(),
  })
  .strict();

export const upstreamSaslSchema = z
  .object({
    mechanism: z.enum(CLIENT_SASL_MECHANISMS),
    username: z.string().min(1).optional(),
    username_file: filePath.optional(),
    password: z.string().min(1).optional(),
    password_file: filePath.optional(),
    /** OAUTHBEARER through the client-credentials grant. */
    oauthbearer: z
      .object({
        token_endpoint_url: z.string().url(),
        client_id: z.string().min(1),
        client_secret: z.string().min(1).optional(),
        client_secret_file: filePath.optional(),
        scope: z.string().optional(),
        audience: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ListenSecurityInput = z.output<typeof listenSecuritySchema>;
export type UpstreamTlsInput = z.output<typeof upstreamTlsSchema>;
export type UpstreamSaslInput = z.output<typeof upstreamSaslSchema>;

export interface ClientTlsSettings {
  certPath: string;
  keyPath: string;
  keyPassword: string | undefined;
  caCertPath: string | undefined;
  clientAuth: "none" | "requested" | "required";
  principalMappingRules: string | string[];
  sni: { bootstrapHost: string; brokerHostPattern: string } | undefined;
}

export interface OAuthBearerSettings {
  jwksUrl: string | undefined;
  jwksFile: string | undefined;
  publicKeyFile: string | undefined;
  issuer: string | undefined;
  audience: string | string[] | undefined;
  requiredScopes: string[];
  clockSkewSeconds: number;
  principalClaim: string;
}

export interface ClientSaslSettings {
  mechanisms: SaslMechanismName[];
  credentials: { file: string | undefined; users: Record<string, UserEntryInput> };
  oauthbearer: OAuthBearerSettings | undefined;
}

/** How clients reach and prove themselves to the proxy. */
export interface ClientSecuritySettings {
  protocol: SecurityProtocol;
  mode: "terminate" | "passthrough";
  authenticationTimeoutMs: number;
  /** 0: SASL sessions never expire. */
  maxReauthMs: number;
  tls: ClientTlsSettings | undefined;
  sasl: ClientSaslSettings | undefined;
}

export interface UpstreamTlsSettings {
  caCertPath: string | undefined;
  certPath: string | undefined;
  keyPath: string | undefined;
  keyPassword: string | undefined;
  insecureSkipVerify: boolean;
  serverName: string | undefined;
}

export type UpstreamSaslSettings =
  | { mechanism: "PLAIN" | ScramMechanismName; username: string; password: string }
  | {
      mechanism: "OAUTHBEARER";
      tokenEndpointUrl: string;
      clientId: string;
      clientSecret: string;
      scope: string | undefined;
      audience: string | undefined;
    };

/** How the proxy reaches and proves itself to one upstream cluster. */
export interface UpstreamSecuritySettings {
  protocol: SecurityProtocol;
  tls: UpstreamTlsSettings | undefined;
  sasl: UpstreamSaslSettings | undefined;
}

export const usesTls = (protocol: SecurityProtocol): boolean => protocol === "SSL" || protocol === "SASL_SSL";
export const usesSasl = (protocol: SecurityProtocol): boolean =>
  protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";

/** A file the config names, with its field path: checked by `unreadableFiles` (at start and by --check). */
export interface NamedFile {
  readonly field: string;
  readonly file: string;
}

function named(file: string | undefined, field: string, files: NamedFile[]): void {
  if (file !== undefined) files.push({ field, file });
}

/** A problem for each named file the process cannot read, naming its field path. */
export function unreadableFiles(files: readonly NamedFile[]): string[] {
  const problems: string[] = [];
  for (const { field, file } of files) {
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      problems.push(
        `${field}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  return problems;
}
/** A secret given inline or in a file (its content, trimmed); a problem when neither or both are given. */
function secret(
  inline: string | undefined,
  file: string | undefined,
  path: string,
  problems: string[],
): string {
  if (inline !== undefined && file !== undefined) {
    problems.push(`${path}: give ${path.split(".").pop()} or ${path.split(".").pop()}_file, not both`);
    return "";
  }
  if (file !== undefined) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (error) {
      problems.push(`${path}_file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
      return "";
    }
  }
  if (inline === undefined) problems.push(`${path}: required (or ${path.split(".").pop()}_file)`);
  return inline ?? "";
}

export function normalizeClientSecurity(
  input: ListenSecurityInput | null | undefined,
  problems: string[],
  warnings: string[],
  files: NamedFile[],
): ClientSecuritySettings {
  const raw = input ?? listenSecuritySchema.parse({});
  const protocol = raw.protocol;
  let tls: ClientTlsSettings | undefined;
  if (usesTls(protocol)) {
    if (!raw.tls) {
      problems.push(`listen.security.tls: required for ${protocol} (cert_path and key_path)`);
    } else {
      named(raw.tls.cert_path, "listen.security.tls.cert_path", files);
      named(raw.tls.key_path, "listen.security.tls.key_path", files);
      named(raw.tls.ca_cert_path, "listen.security.tls.ca_cert_path", files);
      const clientAuth =
        raw.tls.client_auth ??
        (raw.tls.require_client_cert ? "required" : raw.tls.ca_cert_path ? "requested" : "none");
      if (clientAuth !== "none" && !raw.tls.ca_cert_path) {
        problems.push(
          `listen.security.tls.ca_cert_path: required to verify client certificates (${clientAuth})`,
        );
      }
      tls = {
        certPath: raw.tls.cert_path,
        keyPath: raw.tls.key_path,
        keyPassword: raw.tls.key_password,
        caCertPath: raw.tls.ca_cert_path,
        clientAuth,
        principalMappingRules: raw.tls.principal.mapping_rules,
        sni: raw.tls.sni && {
          bootstrapHost: raw.tls.sni.bootstrap_host,
          brokerHostPattern: raw.tls.sni.broker_host_pattern,
        },
      };
    }
  } else if (raw.tls) {
    warnings.push(`listen.security.tls is ignored: listen.security.protocol is ${protocol}`);
  }

  let sasl: ClientSaslSettings | undefined;
  if (usesSasl(protocol)) {
    const input = raw.sasl ?? { enabled_mechanisms: ["PLAIN" as const], credentials: { users: {} } };
    const mechanisms = [...new Set(input.enabled_mechanisms)];
    const oauth = raw.sasl?.oauthbearer;
    if (mechanisms.includes("OAUTHBEARER")) {
      if (!oauth) {
        problems.push("listen.security.sasl.oauthbearer: required when OAUTHBEARER is enabled");
      } else {
        const keySources = [oauth.jwks_url, oauth.jwks_path, oauth.public_key_path].filter(Boolean).length;
        if (keySources !== 1)
          problems.push(
            "listen.security.sasl.oauthbearer: give exactly one of jwks_url, jwks_path and public_key_path",
          );
        named(oauth.jwks_path, "listen.security.sasl.oauthbearer.jwks_path", files);
        named(oauth.public_key_path, "listen.security.sasl.oauthbearer.public_key_path", files);
      }
    }
    const credentials = raw.sasl?.credentials ?? { file: undefined, users: {} };
    const passwordMechanisms = mechanisms.filter((m) => m !== "OAUTHBEARER");
    if (passwordMechanisms.length > 0) {
      named(credentials.file, "listen.security.sasl.credentials.file", files);
      if (
        credentials.file === undefined &&
        Object.keys(credentials.users).length === 0 &&
        raw.mode === "terminate"
      ) {
        problems.push(
          `listen.security.sasl.credentials: ${passwordMechanisms.join(", ")} needs users or a credentials file`,
        );
      }
    }
    const plaintext = Object.entries(credentials.users)
      .filter(([, entry]) => typeof entry === "string" || "password" in entry)
      .map(([user]) => user);
    if (plaintext.length > 0) {
      warnings.push(
        `listen.security.sasl.credentials.users: ${plaintext.join(", ")} have plaintext passwords in the config; store salted SCRAM credentials instead (kafka-partition-proxy scram add)`,
      );
    }
    sasl = {
      mechanisms,
      credentials: { file: credentials.file, users: credentials.users },
      oauthbearer: oauth && {
        jwksUrl: oauth.jwks_url,
        jwksFile: oauth.jwks_path,
        publicKeyFile: oauth.public_key_path,
        issuer: oauth.issuer,
        audience: oauth.audience,
        requiredScopes: oauth.required_scopes,
        clockSkewSeconds: oauth.clock_skew_seconds,
        principalClaim: oauth.principal_claim,
      },
    };
  } else if (raw.sasl) {
    warnings.push(`listen.security.sasl is ignored: listen.security.protocol is ${protocol}`);
  }
  if (raw.mode === "passthrough" && !usesSasl(protocol)) {
    problems.push("listen.security.mode: passthrough needs a SASL protocol (SASL_PLAINTEXT or SASL_SSL)");
  }
  return {
    protocol,
    mode: raw.mode,
    authenticationTimeoutMs: raw.authentication_timeout_ms,
    maxReauthMs: raw.connections_max_reauth_ms,
    tls,
    sasl,
  };
}

export function normalizeUpstreamSecurity(
  protocol: SecurityProtocol,
  tlsInput: UpstreamTlsInput | null | undefined,
  saslInput: UpstreamSaslInput | null | undefined,
  path: string,
  problems: string[],
  warnings: string[],
  files: NamedFile[],
): UpstreamSecuritySettings {
  let tls: UpstreamTlsSettings | undefined;
  if (usesTls(protocol)) {
    const raw = tlsInput ?? upstreamTlsSchema.parse({});
    named(raw.ca_cert_path, `${path}.tls.ca_cert_path`, files);
    named(raw.cert_path, `${path}.tls.cert_path`, files);
    named(raw.key_path, `${path}.tls.key_path`, files);
    if ((raw.cert_path === undefined) !== (raw.key_path === undefined)) {
      problems.push(`${path}.tls: cert_path and key_path go together`);
    }
    if (raw.insecure_skip_verify) {
      warnings.push(
        `${path}.tls.insecure_skip_verify: broker certificates and host names are NOT verified; anyone on the path can read and change the traffic`,
      );
    }
    tls = {
      caCertPath: raw.ca_cert_path,
      certPath: raw.cert_path,
      keyPath: raw.key_path,
      keyPassword: raw.key_password,
      insecureSkipVerify: raw.insecure_skip_verify,
      serverName: raw.server_name,
    };
  } else if (tlsInput && Object.keys(tlsInput).some((key) => key !== "insecure_skip_verify")) {
    warnings.push(`${path}.tls is ignored: ${path}.security_protocol is ${protocol}`);
  }

  let sasl: UpstreamSaslSettings | undefined;
  if (usesSasl(protocol)) {
    if (!saslInput) {
      problems.push(`${path}.sasl: required for ${protocol} (mechanism, username, password)`);
    } else if (saslInput.mechanism === "OAUTHBEARER") {
      const oauth = saslInput.oauthbearer;
      if (!oauth) {
        problems.push(
          `${path}.sasl.oauthbearer: required for OAUTHBEARER (token_endpoint_url, client_id, client_secret)`,
        );
      } else {
        sasl = {
          mechanism: "OAUTHBEARER",
          tokenEndpointUrl: oauth.token_endpoint_url,
          clientId: oauth.client_id,
          clientSecret: secret(
            oauth.client_secret,
            oauth.client_secret_file,
            `${path}.sasl.oauthbearer.client_secret`,
            problems,
          ),
          scope: oauth.scope,
          audience: oauth.audience,
        };
      }
    } else {
      sasl = {
        mechanism: saslInput.mechanism,
        username: secret(saslInput.username, saslInput.username_file, `${path}.sasl.username`, problems),
        password: secret(saslInput.password, saslInput.password_file, `${path}.sasl.password`, problems),
      };
    }
  } else if (saslInput) {
    warnings.push(`${path}.sasl is ignored: ${path}.security_protocol is ${protocol}`);
  }
  return { protocol, tls, sasl };
}
