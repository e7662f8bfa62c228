import type { CredentialStore } from "../credentials.ts";
import { decodeUtf8 } from "../scram.ts";
import { exchangeFinishedFailure, type SaslServerExchange, type SaslStep } from "./server.ts";

/** The message Kafka gives a client whose PLAIN username or password is wrong. */
export const PLAIN_INVALID_CREDENTIALS = "Authentication failed: Invalid username or password";

/**
 * A server-side SASL/PLAIN exchange (RFC 4616): one client message `[authzid] NUL authcid NUL passwd`. As in
 * Kafka, a non-empty authzid must equal the authcid.
 */
export function plainServerExchange(
  credentials: Pick<CredentialStore, "has" | "verifyPassword">,
): SaslServerExchange {
  let finished = false;
  return {
    mechanism: "PLAIN",
    async step(clientPayload: Buffer): Promise<SaslStep> {
      if (finished) return exchangeFinishedFailure("PLAIN");
      finished = true;
      return authenticate(credentials, clientPayload);
    },
  };
}

function authenticate(
  credentials: Pick<CredentialStore, "has" | "verifyPassword">,
  clientPayload: Buffer,
): SaslStep {
  const text = decodeUtf8(clientPayload);
  if (text === undefined) return failure("malformed PLAIN message: not UTF-8", "Invalid SASL/PLAIN response");
  const tokens = text.split("\u0000");
  if (tokens.length !== 3) {
    const message = `Invalid SASL/PLAIN response: expected 3 tokens, got ${tokens.length}`;
    return failure(`malformed PLAIN message: ${tokens.length} NUL-separated tokens`, message);
  }
  const [authzid, username, password] = tokens;
  if (username === "") return failure("PLAIN: no username", "Authentication failed: username not specified");
  if (password === "") return failure("PLAIN: no password", "Authentication failed: password not specified");
  const user = JSON.stringify(username);
  if (authzid !== "" && authzid !== username) {
    return failure(
      `PLAIN: user ${user} asked for the different authorization id ${JSON.stringify(authzid)}`,
      "Authentication failed: Client requested an authorization id that is different from username",
    );
  }
  if (!credentials.has(username)) {
    credentials.verifyPassword(username, password);
    return failure(`PLAIN: unknown user ${user}`, PLAIN_INVALID_CREDENTIALS);
  }
  if (!credentials.verifyPassword(username, password)) {
    return failure(`PLAIN: wrong password for user ${user}`, PLAIN_INVALID_CREDENTIALS);
  }
  return { kind: "success", payload: Buffer.alloc(0), principal: username };
}

function failure(reason: string, clientMessage: string): SaslStep {
  return { kind: "failure", reason, clientMessage };
}
