import { randomBytes } from "node:crypto";
import {
  clientKeyOf,
  constantTimeEqual,
  decodeStrictBase64,
  decodeUtf8,
  encodeSaslName,
  isScramNonce,
  SCRAM_MIN_ITERATIONS,
  type ScramMechanism,
  saltedPassword,
  scramDigest,
  scramHmac,
  serverKeyOf,
  xorBuffers,
} from "../scram.ts";

export type SaslClientMechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER";

/**
 * The client side of one SASL exchange, for the proxy's own connections to brokers. Drive it like this:
 *
 * ```ts
 * let response = await authenticate(exchange.initial());
 * for (let next = exchange.next(response); next; next = exchange.next(response)) response = await authenticate(next);
 * exchange.finish(response);
 * ```
 *
 * - PLAIN: `initial()` is the one message; `next` returns undefined; `finish` accepts the (empty) response.
 * - SCRAM: `initial()` is client-first; `next(server-first)` is client-final; `next(server-final)` returns
 *   undefined; `finish(server-final)` verifies the server's signature and throws when it is wrong, so a caller
 *   must not treat the connection as authenticated before `finish` returns.
 * - OAUTHBEARER: `initial()` is `n,,\x01auth=Bearer <token>\x01\x01`; `next` returns undefined after an empty
 *   response, and after an error challenge (RFC 7628's JSON) returns the `\x01` the server expects before it
 *   fails the exchange; `finish` throws on an error challenge.
 *
 * A broker's SaslAuthenticate error ends the exchange before any of these; the caller reports it.
 */
export interface SaslClientExchange {
  readonly mechanism: SaslClientMechanism;
  /** The first message to send. */
  initial(): Buffer;
  /** The message answering a server response, or undefined when the client has nothing more to send. */
  next(serverPayload: Buffer): Buffer | undefined;
  /** Checks the server's last response; throws SaslClientError when it does not authenticate the server. */
  finish(serverPayload: Buffer): void;
}

/** Failed client-side authentication: a malformed or forged server message, or misuse of the exchange. */
export class SaslClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SaslClientError";
  }
}

export type SaslClientOptions =
  | {
      mechanism: "PLAIN" | ScramMechanism;
      username: string;
      password: string;
      /** SCRAM only: the client nonce; random by default. Fixed only in tests. */
      clientNonce?: string;
    }
  | { mechanism: "OAUTHBEARER"; token: string };

/** A client-side exchange for the mechanism; see SaslClientExchange for the order of calls. */
export function saslClientExchange(options: SaslClientOptions): SaslClientExchange {
  switch (options.mechanism) {
    case "PLAIN":
      return plainClient(options.username, options.password);
    case "SCRAM-SHA-256":
    case "SCRAM-SHA-512":
      return new ScramClient(options.mechanism, options.username, options.password, options.clientNonce);
    case "OAUTHBEARER":
      return oauthBearerClient(options.token);
  }
}

function plainClient(username: string, password: string): SaslClientExchange {
  if (username.includes("\u0000") || password.includes("\u0000")) {
    throw new SaslClientError("PLAIN credentials cannot contain NUL characters");
  }
  return {
    mechanism: "PLAIN",
    initial: () => Buffer.from(`\u0000${username}\u0000${password}`, "utf8"),
    next: () => undefined,
    finish: () => {},
  };
}

function oauthBearerClient(token: string): SaslClientExchange {
  if (!/^[-_.A-Za-z0-9]+$/.test(token)) {
    throw new SaslClientError("an OAUTHBEARER token may hold only letters, digits, '-', '_' and '.'");
  }
  const serverError = (payload: Buffer) => {
    const status = describeOAuthError(payload);
    return new SaslClientError(`OAUTHBEARER authentication failed${status ? `: ${status}` : ""}`);
  };
  return {
    mechanism: "OAUTHBEARER",
    initial: () => Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`, "utf8"),
    next: (serverPayload) => (serverPayload.length > 0 ? Buffer.from([1]) : undefined),
    finish: (serverPayload) => {
      if (serverPayload.length > 0) throw serverError(serverPayload);
    },
  };
}

function describeOAuthError(payload: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(payload.toString("utf8")) as { status?: unknown };
    return typeof parsed.status === "string" ? parsed.status : undefined;
  } catch {
    return undefined;
  }
}

type ScramClientState = "initial" | "server-first" | "server-final" | "finishing" | "finished";

class ScramClient implements SaslClientExchange {
  readonly mechanism: ScramMechanism;
  readonly #username: string;
  readonly #password: string;
  readonly #clientNonce: string;
  #state: ScramClientState = "initial";
  #expectedServerSignature: Buffer | undefined;

  constructor(mechanism: ScramMechanism, username: string, password: string, clientNonce?: string) {
    this.mechanism = mechanism;
    this.#username = username;
    this.#password = password;
    this.#clientNonce = clientNonce ?? randomBytes(24).toString("base64url");
    if (!isScramNonce(this.#clientNonce))
      throw new SaslClientError("a SCRAM nonce must be printable without ','");
  }

  get #clientFirstBare(): string {
    return `n=${encodeSaslName(this.#username)},r=${this.#clientNonce}`;
  }

  initial(): Buffer {
    this.#expect("initial", "initial()");
    this.#state = "server-first";
    return Buffer.from(`n,,${this.#clientFirstBare}`, "utf8");
  }

  next(serverPayload: Buffer): Buffer | undefined {
    if (this.#state === "server-final") {
      this.#state = "finishing";
      return undefined;
    }
    this.#expect("server-first", "next()");
    this.#state = "server-final";
    const serverFirst = this.#text(serverPayload, "server-first");
    const fields = serverFirst.split(",");
    if (fields[0]?.startsWith("m=")) throw this.#error("the server-first message has a mandatory extension");
    const [nonceField, saltField, iterationsField] = fields;
    if (!nonceField?.startsWith("r=") || !saltField?.startsWith("s=") || !iterationsField?.startsWith("i=")) {
      throw this.#error("the server-first message lacks r=, s= or i=");
    }
    const nonce = nonceField.slice(2);
    if (
      !nonce.startsWith(this.#clientNonce) ||
      nonce.length === this.#clientNonce.length ||
      !isScramNonce(nonce)
    ) {
      throw this.#error("the server's nonce does not extend the client's");
    }
    const salt = decodeStrictBase64(saltField.slice(2));
    if (!salt || salt.length === 0) throw this.#error("the server-first message has an invalid salt");
    const iterationsText = iterationsField.slice(2);
    const iterations = /^\d{1,10}$/.test(iterationsText) ? Number(iterationsText) : Number.NaN;
    if (!(iterations >= SCRAM_MIN_ITERATIONS)) {
      throw this.#error(
        `the server asked for ${iterationsText} iterations, fewer than ${SCRAM_MIN_ITERATIONS}`,
      );
    }
    const salted = saltedPassword(this.mechanism, this.#password, salt, iterations);
    const clientKey = clientKeyOf(this.mechanism, salted);
    const storedKey = scramDigest(this.mechanism, clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xorBuffers(clientKey, scramHmac(this.mechanism, storedKey, authMessage));
    this.#expectedServerSignature = scramHmac(
      this.mechanism,
      serverKeyOf(this.mechanism, salted),
      authMessage,
    );
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`, "utf8");
  }

  finish(serverPayload: Buffer): void {
    if (this.#state === "server-final") this.#state = "finishing";
    this.#expect("finishing", "finish()");
    this.#state = "finished";
    const serverFinal = this.#text(serverPayload, "server-final");
    if (serverFinal.startsWith("e=")) throw this.#error(`the server refused: ${serverFinal.slice(2, 100)}`);
    const signature = serverFinal.startsWith("v=") ? decodeStrictBase64(serverFinal.slice(2)) : undefined;
    if (!signature) throw this.#error("the server-final message has no valid v=");
    if (!constantTimeEqual(signature, this.#expectedServerSignature!)) {
      throw this.#error("the server's signature is wrong: it does not know this user's credentials");
    }
  }

  #text(payload: Buffer, what: string): string {
    const text = decodeUtf8(payload);
    if (text === undefined) throw this.#error(`the ${what} message is not UTF-8`);
    return text;
  }

  #expect(state: ScramClientState, call: string): void {
    if (this.#state !== state)
      throw this.#error(`${call} called out of order (the exchange is at ${this.#state})`);
  }

  #error(problem: string): SaslClientError {
    return new SaslClientError(`${this.mechanism}: ${problem}`);
  }
}
