/** The SASL mechanisms the proxy can serve to clients. */
export type SaslMechanismName = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER";

/** What a server-side exchange answers to one client message. */
export type SaslStep =
  /** Send `payload` to the client and expect another SaslAuthenticate. */
  | { kind: "challenge"; payload: Buffer }
  /** Authenticated; send `payload`. `lifetimeMs`: how long the credential stays valid (a token's `exp`), if bounded. */
  | { kind: "success"; payload: Buffer; principal: string; lifetimeMs?: number }
  /**
   * Not authenticated. `reason` is for the log and never holds a secret; `clientMessage` is safe to send; `payload`
   * is mechanism-defined error data (OAUTHBEARER's RFC 7628 error JSON), if any.
   */
  | { kind: "failure"; reason: string; clientMessage: string; payload?: Buffer };

/** One client's server-side SASL exchange: feed it each client message in order until it succeeds or fails. */
export interface SaslServerExchange {
  readonly mechanism: SaslMechanismName;
  step(clientPayload: Buffer): Promise<SaslStep>;
}

/** The failure every exchange gives for a message after it has finished. */
export function exchangeFinishedFailure(mechanism: SaslMechanismName): SaslStep {
  return {
    kind: "failure",
    reason: `${mechanism}: a message arrived after the exchange finished`,
    clientMessage: `Unexpected SASL message: the ${mechanism} exchange has finished`,
  };
}
