import { createHmac, randomBytes } from "node:crypto";
import { GENERATED_SALT_BYTES } from "../credentials.ts";
import {
  constantTimeEqual,
  decodeSaslName,
  decodeStrictBase64,
  decodeUtf8,
  isScramNonce,
  SCRAM_MIN_ITERATIONS,
  type ScramCredential,
  type ScramMechanism,
  scramDigest,
  scramHmac,
  scramKeyLength,
  xorBuffers,
} from "../scram.ts";
import { exchangeFinishedFailure, type SaslServerExchange, type SaslStep } from "./server.ts";

/** Where a SCRAM server finds users' keys; a CredentialStore is one. */
export interface ScramCredentialSource {
  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined;
  /** The iteration count to announce for unknown users, so that it does not tell them apart. Default 4096. */
  decoyIterations?(mechanism: ScramMechanism): number;
}

export interface ScramServerOptions {
  /** The server's part of the nonce; random by default. Fixed only in tests. */
  serverNonce?: string;
}

/** Per-process key for the salts and keys of users that do not exist. */
const DECOY_KEY = randomBytes(32);

/**
 * A server-side SCRAM-SHA-256 or SCRAM-SHA-512 exchange (RFC 5802, RFC 7677) against stored keys:
 * client-first → server-first challenge, client-final → server-final on success. Channel binding is not
 * supported (gs2 flag `n` or `y`); an authzid must equal the username; Kafka's delegation-token extension
 * `tokenauth=true` is refused. An unknown user gets a server-first with a stable made-up salt and fails only
 * after the client's proof, so the exchange does not tell which users exist.
 */
export function scramServerExchange(
  mechanism: ScramMechanism,
  credentials: ScramCredentialSource,
  options: ScramServerOptions = {},
): SaslServerExchange {
  return new ScramServerExchange(mechanism, credentials, options);
}

type State =
  | { name: "client-first" }
  | {
      name: "client-final";
      username: string;
      gs2Header: string;
      clientFirstBare: string;
      serverFirst: string;
      nonce: string;
      credential: ScramCredential;
      unknownUserReason?: string;
    }
  | { name: "finished" };

class ScramServerExchange implements SaslServerExchange {
  readonly mechanism: ScramMechanism;
  readonly #credentials: ScramCredentialSource;
  readonly #serverNonce: string;
  #state: State = { name: "client-first" };

  constructor(mechanism: ScramMechanism, credentials: ScramCredentialSource, options: ScramServerOptions) {
    this.mechanism = mechanism;
    this.#credentials = credentials;
    this.#serverNonce = options.serverNonce ?? randomBytes(24).toString("base64url");
    if (!isScramNonce(this.#serverNonce))
      throw new Error("the SCRAM server nonce must be printable without ','");
  }

  async step(clientPayload: Buffer): Promise<SaslStep> {
    const state = this.#state;
    this.#state = { name: "finished" };
    switch (state.name) {
      case "client-first":
        return this.#clientFirst(clientPayload);
      case "client-final":
        return this.#clientFinal(clientPayload, state);
      case "finished":
        return exchangeFinishedFailure(this.mechanism);
    }
  }

  #clientFirst(payload: Buffer): SaslStep {
    const message = decodeUtf8(payload);
    if (message === undefined) return this.#malformed("client-first message is not UTF-8");
    const flagEnd = message.indexOf(",");
    const authzidEnd = message.indexOf(",", flagEnd + 1);
    if (flagEnd < 0 || authzidEnd < 0) return this.#malformed("client-first message has no gs2 header");
    const flag = message.slice(0, flagEnd);
    if (flag.startsWith("p=")) {
      return this.#failure(
        "the client asked for channel binding, which the proxy does not support",
        "Authentication failed: channel binding is not supported",
      );
    }
    if (flag !== "n" && flag !== "y") return this.#malformed("client-first message has an invalid gs2 flag");
    const authzidField = message.slice(flagEnd + 1, authzidEnd);
    if (authzidField !== "" && !authzidField.startsWith("a=")) {
      return this.#malformed("client-first message has an invalid authzid field");
    }
    const gs2Header = message.slice(0, authzidEnd + 1);
    const clientFirstBare = message.slice(authzidEnd + 1);
    const [userField, nonceField, ...extensions] = clientFirstBare.split(",");
    if (userField?.startsWith("m=")) {
      return this.#failure(
        "the client sent a mandatory extension (m=), which the proxy does not support",
        "Authentication failed: unsupported SCRAM extension",
      );
    }
    if (!userField?.startsWith("n=") || !nonceField?.startsWith("r=")) {
      return this.#malformed("client-first message lacks n= or r=");
    }
    const username = decodeSaslName(userField.slice(2));
    if (username === undefined || username === "")
      return this.#malformed("client-first message has an invalid username");
    const clientNonce = nonceField.slice(2);
    if (!isScramNonce(clientNonce)) return this.#malformed("client-first message has an invalid nonce");
    const parsedExtensions = new Map<string, string>();
    for (const extension of extensions) {
      const equals = extension.indexOf("=");
      if (equals <= 0) return this.#malformed("client-first message has an invalid extension");
      parsedExtensions.set(extension.slice(0, equals), extension.slice(equals + 1));
    }
    if (parsedExtensions.get("tokenauth")?.toLowerCase() === "true") {
      return this.#failure(
        `user ${JSON.stringify(username)} tried delegation-token authentication (tokenauth=true), which the proxy does not support`,
        "Authentication failed: delegation tokens are not supported",
      );
    }
    if (authzidField !== "") {
      const authzid = decodeSaslName(authzidField.slice(2));
      if (authzid === undefined) return this.#malformed("client-first message has an invalid authzid");
      if (authzid !== username) {
        return this.#failure(
          `user ${JSON.stringify(username)} asked for the different authorization id ${JSON.stringify(authzid)}`,
          "Authentication failed: Client requested an authorization id that is different from username",
        );
      }
    }

    const known = this.#credentials.scramCredential(username, this.mechanism);
    let unknownUserReason: string | undefined;
    if (!known)
      unknownUserReason = `unknown user ${JSON.stringify(username)} (or no ${this.mechanism} credential)`;
    else if (known.iterations < SCRAM_MIN_ITERATIONS) {
      unknownUserReason = `the ${this.mechanism} credential of user ${JSON.stringify(username)} has fewer than ${SCRAM_MIN_ITERATIONS} iterations`;
    }
    const credential = known && !unknownUserReason ? known : this.#decoyCredential(username);
    const nonce = clientNonce + this.#serverNonce;
    const serverFirst = `r=${nonce},s=${credential.salt.toString("base64")},i=${credential.iterations}`;
    this.#state = {
      name: "client-final",
      username,
      gs2Header,
      clientFirstBare,
      serverFirst,
      nonce,
      credential,
      unknownUserReason,
    };
    return { kind: "challenge", payload: Buffer.from(serverFirst, "utf8") };
  }

  #clientFinal(payload: Buffer, state: Extract<State, { name: "client-final" }>): SaslStep {
    const message = decodeUtf8(payload);
    if (message === undefined) return this.#malformed("client-final message is not UTF-8");
    const proofAt = message.lastIndexOf(",p=");
    if (proofAt < 0) return this.#malformed("client-final message has no proof");
    const withoutProof = message.slice(0, proofAt);
    const [channelBindingField, nonceField] = withoutProof.split(",");
    if (!channelBindingField?.startsWith("c=") || !nonceField?.startsWith("r=")) {
      return this.#malformed("client-final message lacks c= or r=");
    }
    const proof = decodeStrictBase64(message.slice(proofAt + 3));
    if (!proof || proof.length !== scramKeyLength(this.mechanism)) {
      return this.#malformed("client-final message has an invalid proof");
    }
    const channelBinding = decodeStrictBase64(channelBindingField.slice(2));
    if (!channelBinding?.equals(Buffer.from(state.gs2Header, "utf8"))) {
      return this.#failure(
        `channel binding data of user ${JSON.stringify(state.username)} does not match the gs2 header`,
        "Authentication failed: invalid channel binding",
      );
    }
    if (nonceField.slice(2) !== state.nonce) {
      return this.#failure(
        `nonce of user ${JSON.stringify(state.username)} does not match the server-first message`,
        "Authentication failed: invalid nonce",
      );
    }
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = state.credential;
    const clientSignature = scramHmac(this.mechanism, storedKey, authMessage);
    const clientKey = xorBuffers(proof, clientSignature);
    const proofMatches = constantTimeEqual(scramDigest(this.mechanism, clientKey), storedKey);
    if (state.unknownUserReason) return this.#invalidCredentials(state.unknownUserReason);
    if (!proofMatches) {
      return this.#invalidCredentials(`wrong password for user ${JSON.stringify(state.username)}`);
    }
    const serverSignature = scramHmac(this.mechanism, serverKey, authMessage);
    return {
      kind: "success",
      payload: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8"),
      principal: state.username,
    };
  }

  #decoyCredential(username: string): ScramCredential {
    const derive = (purpose: string, length: number) =>
      createHmac("sha512", DECOY_KEY)
        .update(`${this.mechanism}\u0000${purpose}\u0000${username}`, "utf8")
        .digest()
        .subarray(0, length);
    const keyLength = scramKeyLength(this.mechanism);
    return {
      salt: derive("salt", GENERATED_SALT_BYTES),
      iterations: this.#credentials.decoyIterations?.(this.mechanism) ?? SCRAM_MIN_ITERATIONS,
      storedKey: derive("stored", keyLength),
      serverKey: derive("server", keyLength),
    };
  }

  #invalidCredentials(reason: string): SaslStep {
    return this.#failure(
      reason,
      `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism}`,
    );
  }

  #malformed(problem: string): SaslStep {
    return this.#failure(
      `malformed ${this.mechanism} message: ${problem}`,
      `Invalid ${this.mechanism} message`,
    );
  }

  #failure(problem: string, clientMessage: string): SaslStep {
    return { kind: "failure", reason: `${this.mechanism}: ${problem}`, clientMessage };
  }
}
