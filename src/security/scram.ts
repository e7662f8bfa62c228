import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";

/** The SCRAM mechanisms Kafka supports (RFC 5802 with the hashes of RFC 7677 and RFC 5802's SHA-512 use). */
export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** Kafka refuses SCRAM credentials with fewer iterations than this. */
export const SCRAM_MIN_ITERATIONS = 4096;

/** The salted keys of RFC 5802 §3 a server keeps for one user and mechanism; the password is not derivable. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Both SCRAM mechanisms, in the order the proxy prefers them. */
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ["SCRAM-SHA-512", "SCRAM-SHA-256"];

export function isScramMechanism(name: string): name is ScramMechanism {
  return name === "SCRAM-SHA-256" || name === "SCRAM-SHA-512";
}

/** The Node hash name behind a mechanism. */
export function scramHash(mechanism: ScramMechanism): "sha256" | "sha512" {
  return mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
}

/** The length in bytes of the mechanism's keys, proofs and signatures. */
export function scramKeyLength(mechanism: ScramMechanism): number {
  return mechanism === "SCRAM-SHA-256" ? 32 : 64;
}

export function scramHmac(mechanism: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(scramHash(mechanism), key).update(data).digest();
}

export function scramDigest(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(scramHash(mechanism)).update(data).digest();
}

/** Hi(Normalize(password), salt, i) of RFC 5802; the password is used as UTF-8 without SASLprep, as Kafka does. */
export function saltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Buffer,
  iterations: number,
): Buffer {
  return pbkdf2Sync(
    Buffer.from(password, "utf8"),
    salt,
    iterations,
    scramKeyLength(mechanism),
    scramHash(mechanism),
  );
}

export function clientKeyOf(mechanism: ScramMechanism, salted: Buffer): Buffer {
  return scramHmac(mechanism, salted, "Client Key");
}

export function serverKeyOf(mechanism: ScramMechanism, salted: Buffer): Buffer {
  return scramHmac(mechanism, salted, "Server Key");
}

export function xorBuffers(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Equal length and equal bytes, in time independent of where they differ. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A username as an RFC 5802 saslname: `,` and `=` escaped as `=2C` and `=3D`. */
export function encodeSaslName(name: string): string {
  return name.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/** The name an RFC 5802 saslname stands for, or undefined when it holds a `=` not part of `=2C` or `=3D`. */
export function decodeSaslName(saslName: string): string | undefined {
  if (/=(?!2C|3D)/.test(saslName)) return undefined;
  return saslName.replace(/=2C|=3D/g, (sequence) => (sequence === "=2C" ? "," : "="));
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard padded base64, or undefined when the text is not exactly that. */
export function decodeStrictBase64(text: string): Buffer | undefined {
  return STRICT_BASE64.test(text) ? Buffer.from(text, "base64") : undefined;
}

/** RFC 5802's printable: %x21-7E except `,`. */
export function isScramNonce(nonce: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(nonce);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as UTF-8, or undefined when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
