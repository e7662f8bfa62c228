import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import type { ClientAuthenticator } from "../../security/client-authenticator.ts";
import type { SaslServerExchange } from "../../security/sasl/server.ts";

type HandshakeRequest = RequestOf<typeof ApiKey.SaslHandshake>;
type HandshakeResponse = ResponseOf<typeof ApiKey.SaslHandshake>;
type AuthenticateRequest = RequestOf<typeof ApiKey.SaslAuthenticate>;
type AuthenticateResponse = ResponseOf<typeof ApiKey.SaslAuthenticate>;

/** What a SaslAuthenticate round decided, besides the response the client gets. */
export type AuthenticationOutcome =
  | { kind: "continue" }
  | { kind: "authenticated"; principal: string; reauthentication: boolean }
  /** The client is told why (SASL_AUTHENTICATION_FAILED), then the connection closes; `reason` is for the log. */
  | { kind: "failed"; reason: string };

/**
 * One client connection's SASL state in terminate mode, as a broker keeps it: SaslHandshake picks the mechanism,
 * SaslAuthenticate rounds run it, and until they succeed only ApiVersions and these two are served. With a
 * session lifetime (connections_max_reauth_ms, or a token's expiry), the client must re-authenticate before it
 * ends (KIP-368), as the same principal.
 */
export class ConnectionAuthentication {
  private readonly authenticator: ClientAuthenticator;
  private readonly maxReauthMs: number;
  private exchange: SaslServerExchange | undefined;
  /** Set once authenticated; a re-authentication must prove the same one. */
  principal: string | undefined;
  /** When the session ends (Date.now()); infinite when it never does. */
  private sessionEndsAt = Number.POSITIVE_INFINITY;

  constructor(authenticator: ClientAuthenticator, maxReauthMs: number) {
    this.authenticator = authenticator;
    this.maxReauthMs = maxReauthMs;
  }

  /** Authenticated, and the session has not ended. */
  isAuthenticated(now: number): boolean {
    return this.principal !== undefined && now < this.sessionEndsAt;
  }

  get sessionExpired(): boolean {
    return this.principal !== undefined && Date.now() >= this.sessionEndsAt;
  }

  handshake(request: HandshakeRequest): HandshakeResponse {
    const mechanisms = [...this.authenticator.mechanisms];
    this.exchange = this.authenticator.exchange(request.mechanism);
    return {
      errorCode: this.exchange ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_SASL_MECHANISM,
      mechanisms,
    };
  }

  async authenticate(
    request: AuthenticateRequest,
  ): Promise<{ response: AuthenticateResponse; outcome: AuthenticationOutcome }> {
    const exchange = this.exchange;
    if (!exchange) {
      return failed(
        "SaslAuthenticate before a successful SaslHandshake",
        "Authentication failed: no SASL mechanism was chosen",
      );
    }
    const step = await exchange.step(request.authBytes);
    if (step.kind === "challenge") {
      return { response: answer(ErrorCode.NONE, null, step.payload, 0n), outcome: { kind: "continue" } };
    }
    this.exchange = undefined;
    if (step.kind === "failure") {
      const reason = step.reason.startsWith(exchange.mechanism)
        ? step.reason
        : `${exchange.mechanism}: ${step.reason}`;
      return failed(reason, step.clientMessage);
    }
    const reauthentication = this.principal !== undefined;
    if (reauthentication && step.principal !== this.principal) {
      return failed(
        `re-authenticated as ${step.principal}, not ${this.principal}`,
        "Authentication failed: a re-authentication must be as the same principal",
      );
    }
    const lifetimes = [this.maxReauthMs > 0 ? this.maxReauthMs : Number.POSITIVE_INFINITY];
    if (this.maxReauthMs > 0 && step.lifetimeMs !== undefined) lifetimes.push(Math.max(0, step.lifetimeMs));
    const lifetimeMs = Math.min(...lifetimes);
    this.principal = step.principal;
    this.sessionEndsAt = Date.now() + lifetimeMs;
    return {
      response: answer(
        ErrorCode.NONE,
        null,
        step.payload,
        Number.isFinite(lifetimeMs) ? BigInt(lifetimeMs) : 0n,
      ),
      outcome: { kind: "authenticated", principal: step.principal, reauthentication },
    };
  }
}

function answer(
  errorCode: number,
  errorMessage: string | null,
  authBytes: Buffer,
  sessionLifetimeMs: bigint,
): AuthenticateResponse {
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs };
}

function failed(
  reason: string,
  clientMessage: string,
): { response: AuthenticateResponse; outcome: AuthenticationOutcome } {
  return {
    response: answer(ErrorCode.SASL_AUTHENTICATION_FAILED, clientMessage, Buffer.alloc(0), 0n),
    outcome: { kind: "failed", reason },
  };
}
