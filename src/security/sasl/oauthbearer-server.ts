import { createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type KeyObject as JoseKeyObject,
  type JSONWebKeySet,
  type JWSAlgorithm,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { decodeSaslName, decodeUtf8 } from "../scram.ts";
import { exchangeFinishedFailure, type SaslServerExchange, type SaslStep } from "./server.ts";

/**
 * How OAUTHBEARER tokens (JWTs) are checked. Exactly one key source: `jwksUrl` (http or https, cached, fetched
 * again for an unknown key id at most every 30 s), `jwksFile` (read again when its mtime changes) or
 * `publicKeyFile` (PEM: an SPKI public key or an X.509 certificate). Only asymmetric signatures are accepted. The
 * constructor reads a file source and throws OAuthBearerConfigError when it is missing or invalid.
 */
export interface OAuthBearerOptions {
  jwksUrl?: string;
  jwksFile?: string;
  publicKeyFile?: string;
  issuer?: string;
  /** The token's `aud` (a string or a list) must contain one of these. */
  audience?: string | string[];
  /** Scopes the token must all grant, from its `scope` (space-separated or a list) or `scp` claim. */
  requiredScopes?: string[];
  /** Tolerance for `exp` and `nbf`; default 30, as Kafka's `sasl.oauthbearer.clock.skew.seconds`. */
  clockSkewSeconds?: number;
  /** The claim naming the principal; default `sub`. */
  principalClaim?: string;
}

/** An OAUTHBEARER configuration that cannot work. */
export class OAuthBearerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OAuthBearerConfigError";
  }
}

/** RFC 6750 error status of a failed validation. */
export type OAuthBearerStatus = "invalid_token" | "insufficient_scope";

/** `lifetimeMs` is at least 1, so that it never reads as Kafka's "no expiry" 0. */
export type OAuthBearerValidation =
  | { principal: string; expiresAtMs: number; lifetimeMs: number }
  | { failure: string; clientMessage: string; status: OAuthBearerStatus };

const ASYMMETRIC_ALGORITHMS: readonly JWSAlgorithm[] = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

const DEFAULT_CLOCK_SKEW_SECONDS = 30;
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;

/** The key (or a key resolver) to verify with, and the algorithms it may verify. */
interface ResolvedKeys {
  key: JWTVerifyGetKey | JoseKeyObject;
  algorithms: readonly JWSAlgorithm[];
}

interface KeySource {
  resolver(): Promise<ResolvedKeys>;
}

/** Checks JWTs: signature, `iss`, `aud`, `exp`, `nbf`, scopes and the principal claim. */
export class OAuthBearerValidator {
  readonly #options: OAuthBearerOptions;
  readonly #now: () => number;
  readonly #keys: KeySource;
  readonly #principalClaim: string;
  readonly #clockSkewSeconds: number;

  constructor(options: OAuthBearerOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
    this.#principalClaim = options.principalClaim ?? "sub";
    this.#clockSkewSeconds = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    if (!Number.isFinite(this.#clockSkewSeconds) || this.#clockSkewSeconds < 0) {
      throw new OAuthBearerConfigError("clockSkewSeconds must be a non-negative number");
    }
    if (this.#principalClaim === "") throw new OAuthBearerConfigError("principalClaim must not be empty");
    const sources = [options.jwksUrl, options.jwksFile, options.publicKeyFile].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      throw new OAuthBearerConfigError("give exactly one of jwksUrl, jwksFile and publicKeyFile");
    }
    if (options.jwksUrl !== undefined) this.#keys = remoteJwks(options.jwksUrl);
    else if (options.jwksFile !== undefined) this.#keys = new FileKeySource(options.jwksFile, jwksFromText);
    else this.#keys = new FileKeySource(options.publicKeyFile!, publicKeyFromPem);
  }

  /** The token's principal and expiry, or why it is refused; the reason never contains the token. */
  async validate(token: string): Promise<OAuthBearerValidation> {
    const keys = await this.#keys.resolver();
    const nowMs = this.#now();
    let payload: JWTPayload;
    try {
      const verified = await jwtVerify(token, keys.key, {
        algorithms: [...keys.algorithms],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        clockTolerance: this.#clockSkewSeconds,
        currentDate: new Date(nowMs),
        requiredClaims: ["exp"],
      });
      payload = verified.payload;
    } catch (error) {
      return failureFromJoseError(error);
    }
    const principal = payload[this.#principalClaim];
    if (typeof principal !== "string" || principal === "") {
      return invalid(`malformed: the principal claim '${this.#principalClaim}' is missing or not a string`);
    }
    const missing = missingScopes(payload, this.#options.requiredScopes ?? []);
    if (missing.length > 0) {
      return {
        failure: `missing scope: ${missing.join(" ")}`,
        clientMessage: "Authentication failed: the token lacks a required scope",
        status: "insufficient_scope",
      };
    }
    const expiresAtMs = payload.exp! * 1000;
    return { principal, expiresAtMs, lifetimeMs: Math.max(1, expiresAtMs - nowMs) };
  }
}

function invalid(
  failure: string,
  clientMessage = "Authentication failed: invalid token",
): OAuthBearerValidation {
  return { failure, clientMessage, status: "invalid_token" };
}

function keySourceUnavailable(problem: string): OAuthBearerValidation {
  return invalid(
    `key source unavailable: ${problem}`,
    "Authentication failed: the token could not be verified",
  );
}

function missingScopes(payload: JWTPayload, required: readonly string[]): string[] {
  const granted = new Set<string>();
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === "string") for (const scope of claim.split(" ")) granted.add(scope);
    else if (Array.isArray(claim))
      for (const scope of claim) if (typeof scope === "string") granted.add(scope);
  }
  return required.filter((scope) => !granted.has(scope));
}

function failureFromJoseError(error: unknown): OAuthBearerValidation {
  if (error instanceof KeySourceUnavailable) return keySourceUnavailable(error.message);
  const { code, claim, reason } = error as { code?: string; claim?: string; reason?: string };
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return invalid("expired: the token's exp has passed", "Authentication failed: the token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (reason === "missing") return invalid(`malformed: the token has no '${claim}' claim`);
      if (claim === "iss") return invalid("wrong issuer");
      if (claim === "aud") return invalid("wrong audience");
      if (claim === "nbf") {
        return invalid(
          "not yet valid: the token's nbf is in the future",
          "Authentication failed: the token is not yet valid",
        );
      }
      return invalid(`malformed: the '${claim}' claim is invalid (${reason})`);
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return invalid("bad signature");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return invalid("bad signature: no key matches the token's kid and alg");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return invalid("bad signature: the token's algorithm is not allowed");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
      return invalid(`malformed: ${(error as Error).message}`);
    default:
      return invalid(`verification error: ${describeError(error)}`);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function remoteJwks(url: string): KeySource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OAuthBearerConfigError(`jwksUrl is not a URL: ${url}`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new OAuthBearerConfigError(`jwksUrl must be http or https: ${url}`);
  }
  const jwks = createRemoteJWKSet(parsed, {
    cooldownDuration: JWKS_COOLDOWN_MS,
    timeoutDuration: JWKS_TIMEOUT_MS,
  });
  const key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWKS_NO_MATCHING_KEY" || code === "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw error;
      throw new KeySourceUnavailable(`${parsed.origin}${parsed.pathname}: ${describeError(error)}`);
    }
  };
  return { resolver: async () => ({ key, algorithms: ASYMMETRIC_ALGORITHMS }) };
}

class KeySourceUnavailable extends Error {}

/**
 * A key source read from a file: at construction (a bad file is a configuration error) and again whenever the
 * file's mtime or size changes. While a changed file does not load, the last good keys stay in use.
 */
class FileKeySource implements KeySource {
  readonly #file: string;
  readonly #parse: (text: string) => ResolvedKeys;
  #loaded: { mtimeMs: number; size: number; resolved: ResolvedKeys };

  constructor(file: string, parse: (text: string) => ResolvedKeys) {
    this.#file = file;
    this.#parse = parse;
    try {
      const stats = statSync(file);
      this.#loaded = {
        mtimeMs: stats.mtimeMs,
        size: stats.size,
        resolved: parse(readFileSync(file, "utf8")),
      };
    } catch (error) {
      throw new OAuthBearerConfigError(`${file}: ${describeError(error)}`);
    }
  }

  async resolver(): Promise<ResolvedKeys> {
    try {
      const stats = await stat(this.#file);
      if (this.#loaded.mtimeMs !== stats.mtimeMs || this.#loaded.size !== stats.size) {
        const resolved = this.#parse(await readFile(this.#file, "utf8"));
        this.#loaded = { mtimeMs: stats.mtimeMs, size: stats.size, resolved };
      }
    } catch {}
    return this.#loaded.resolved;
  }
}

function jwksFromText(text: string): ResolvedKeys {
  const jwks = JSON.parse(text) as JSONWebKeySet;
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error("not a JWKS: no 'keys' list");
  return { key: createLocalJWKSet(jwks), algorithms: ASYMMETRIC_ALGORITHMS };
}

function publicKeyFromPem(text: string): ResolvedKeys {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new Error("the file holds a private key; give the public key or a certificate");
  }
  const key = text.includes("-----BEGIN CERTIFICATE-----")
    ? new X509Certificate(text).publicKey
    : createPublicKey({ key: text, format: "pem" });
  return { key, algorithms: algorithmsForKey(key) };
}

function algorithmsForKey(key: KeyObject): readonly JWSAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return ["ES256"];
      if (curve === "secp384r1") return ["ES384"];
      if (curve === "secp521r1") return ["ES512"];
      throw new Error(`unsupported EC curve ${curve}`);
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/** Kafka's OAUTHBEARER client-first: gs2 header, then `\x01`-separated key=value pairs, then `\x01\x01`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: \x01 is RFC 7628's separator
const CLIENT_FIRST = /^([ny]),(a=[^,\x01]*)?,\x01((?:[A-Za-z]+=[\x21-\x7e \t\r\n]+\x01)*)\x01$/;
const AUTH_VALUE = /^([A-Za-z0-9_]+) +([-_.A-Za-z0-9]+)$/;

/**
 * A server-side OAUTHBEARER exchange (RFC 7628 as Kafka uses it): one client message carrying
 * `auth=Bearer <jwt>`; success carries the token's remaining lifetime. A failure carries RFC 7628's error JSON as
 * its payload. Extensions other than `auth` are accepted and ignored. A non-empty authzid must equal the principal.
 */
export function oauthBearerServerExchange(validator: OAuthBearerValidator): SaslServerExchange {
  let finished = false;
  return {
    mechanism: "OAUTHBEARER",
    async step(clientPayload: Buffer): Promise<SaslStep> {
      if (finished) return exchangeFinishedFailure("OAUTHBEARER");
      finished = true;
      return authenticate(validator, clientPayload);
    },
  };
}

async function authenticate(validator: OAuthBearerValidator, clientPayload: Buffer): Promise<SaslStep> {
  const malformed = (problem: string): SaslStep =>
    failureStep(`OAUTHBEARER: malformed client message: ${problem}`, "Invalid OAUTHBEARER client message");
  const text = decodeUtf8(clientPayload);
  if (text?.startsWith("p=")) {
    return failureStep(
      "OAUTHBEARER: the client asked for channel binding",
      "Authentication failed: channel binding is not supported",
    );
  }
  const match = text === undefined ? null : CLIENT_FIRST.exec(text);
  if (!match) return malformed("not a gs2 header followed by key=value pairs");
  const pairs = new Map<string, string>();
  for (const pair of match[3].split("\u0001")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const key = pair.slice(0, equals);
    if (pairs.has(key)) return malformed(`'${key}' is given twice`);
    pairs.set(key, pair.slice(equals + 1));
  }
  const auth = pairs.get("auth");
  if (auth === undefined) return malformed("no auth=");
  const authMatch = AUTH_VALUE.exec(auth);
  if (authMatch?.[1].toLowerCase() !== "bearer") return malformed("auth= is not 'Bearer <token>'");
  const authzid = match[2] === undefined ? "" : decodeSaslName(match[2].slice(2));
  if (authzid === undefined) return malformed("invalid authzid");

  const result = await validator.validate(authMatch[2]);
  if ("failure" in result) {
    return failureStep(`OAUTHBEARER: ${result.failure}`, result.clientMessage, result.status);
  }
  if (authzid !== "" && authzid !== result.principal) {
    return failureStep(
      `OAUTHBEARER: principal ${JSON.stringify(result.principal)} asked for the different authorization id ${JSON.stringify(authzid)}`,
      "Authentication failed: Client requested an authorization id that is different from the token's principal name",
    );
  }
  return {
    kind: "success",
    payload: Buffer.alloc(0),
    principal: result.principal,
    lifetimeMs: result.lifetimeMs,
  };
}

function failureStep(
  reason: string,
  clientMessage: string,
  status: OAuthBearerStatus = "invalid_token",
): SaslStep {
  return { kind: "failure", reason, clientMessage, payload: Buffer.from(JSON.stringify({ status }), "utf8") };
}
