import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import {
  clientKeyOf,
  constantTimeEqual,
  decodeStrictBase64,
  isScramMechanism,
  SCRAM_MECHANISMS,
  SCRAM_MIN_ITERATIONS,
  type ScramCredential,
  type ScramMechanism,
  saltedPassword,
  scramDigest,
  scramKeyLength,
  serverKeyOf,
} from "./scram.ts";

export type { ScramCredential, ScramMechanism } from "./scram.ts";

/** Iterations for credentials derived at run time from a plaintext password. */
export const PLAINTEXT_DERIVED_ITERATIONS = SCRAM_MIN_ITERATIONS;

/** Salt length of the credentials this module generates. */
export const GENERATED_SALT_BYTES = 32;

interface StoredFields {
  salt: string;
  iterations: number;
  stored_key: string;
  server_key: string;
}

/**
 * One user in the config: a plaintext password, or stored SCRAM keys (base64 fields) for one mechanism
 * (given, or told by the key length), or stored keys per mechanism.
 */
export type UserEntry =
  | string
  | { password: string }
  | (StoredFields & { mechanism?: ScramMechanism })
  | Partial<Record<ScramMechanism, StoredFields>>;

/** A bad credential definition; the message names the user or the file line, never a password. */
export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialError";
  }
}

interface UserRecord {
  plaintext?: string;
  stored: Map<ScramMechanism, ScramCredential>;
}

type ParsedLine =
  | { line: number; user: string; kind: "plaintext"; password: string }
  | { line: number; user: string; kind: "stored"; mechanism: ScramMechanism; credential: ScramCredential };

/** The SCRAM keys for a password, as a server stores them (RFC 5802 §3). */
export function scramCredentialFor(
  password: string,
  mechanism: ScramMechanism,
  iterations = PLAINTEXT_DERIVED_ITERATIONS,
  salt: Buffer = randomBytes(GENERATED_SALT_BYTES),
): ScramCredential {
  const salted = saltedPassword(mechanism, password, salt, iterations);
  return {
    salt,
    iterations,
    storedKey: scramDigest(mechanism, clientKeyOf(mechanism, salted)),
    serverKey: serverKeyOf(mechanism, salted),
  };
}

/** One line of the stored credential file: `user:MECHANISM:salt=…,iterations=…,stored_key=…,server_key=…`. */
export function formatStoredEntry(user: string, mechanism: ScramMechanism, c: ScramCredential): string {
  const problem = fileUsernameProblem(user);
  if (problem) throw new CredentialError(`cannot store user ${JSON.stringify(user)}: ${problem}`);
  return (
    `${user}:${mechanism}:salt=${c.salt.toString("base64")},iterations=${c.iterations},` +
    `stored_key=${c.storedKey.toString("base64")},server_key=${c.serverKey.toString("base64")}`
  );
}

/**
 * The users the proxy authenticates, from the config's `users` map and a credential file. The file holds lines
 * `username:password` and `username:SCRAM-SHA-512:salt=…,iterations=…,stored_key=…,server_key=…` (one per user
 * and mechanism), mixed freely; blank lines and lines starting with `#` are skipped. The first `:` ends the
 * username, and a password is everything after it (spaces included). A password that itself starts with
 * `SCRAM-SHA-256:` or `SCRAM-SHA-512:` is read as a stored entry.
 */
export class CredentialStore {
  /** Users whose password is held in plaintext. */
  readonly plaintextUsers: string[];
  readonly #users: Map<string, UserRecord>;
  readonly #derived = new Map<string, ScramCredential>();
  readonly #decoyIterations: Map<ScramMechanism, number>;
  readonly #anyStored: boolean;

  private constructor(users: Map<string, UserRecord>) {
    this.#users = users;
    this.plaintextUsers = [...users].filter(([, r]) => r.plaintext !== undefined).map(([name]) => name);
    this.#anyStored = [...users.values()].some((r) => r.stored.size > 0);
    this.#decoyIterations = new Map(SCRAM_MECHANISMS.map((m) => [m, this.#commonIterations(m)]));
  }

  /** Builds the store; throws CredentialError naming the user or the file and line of the first problem. */
  static fromConfig(input: { users?: Record<string, UserEntry>; file?: string }): CredentialStore {
    const users = new Map<string, UserRecord>();
    for (const [name, entry] of Object.entries(input.users ?? {})) {
      const where = `users.${name}`;
      const nameProblem = usernameProblem(name);
      if (nameProblem) throw new CredentialError(`${where}: ${nameProblem}`);
      users.set(name, userRecordFromEntry(entry, where));
    }
    if (input.file !== undefined) {
      for (const parsed of parseCredentialFile(input.file)) addParsedLine(users, parsed, input.file);
    }
    return new CredentialStore(users);
  }

  has(user: string): boolean {
    return this.#users.has(user);
  }

  /**
   * Whether the password is the user's, compared in constant time. A stored entry is checked by deriving its
   * keys from the password with the entry's salt and iterations; an unknown user costs about as much.
   */
  verifyPassword(user: string, password: string): boolean {
    const record = this.#users.get(user);
    if (!record) {
      if (this.#anyStored) {
        const mechanism = SCRAM_MECHANISMS[0];
        saltedPassword(mechanism, password, DECOY_SALT, this.decoyIterations(mechanism));
      }
      return false;
    }
    if (record.plaintext !== undefined) {
      return constantTimeEqual(sha256(password), sha256(record.plaintext));
    }
    for (const mechanism of SCRAM_MECHANISMS) {
      const stored = record.stored.get(mechanism);
      if (!stored) continue;
      const expected = scramCredentialFor(password, mechanism, stored.iterations, stored.salt);
      return constantTimeEqual(expected.storedKey, stored.storedKey);
    }
    return false;
  }

  /**
   * The user's SCRAM keys for the mechanism: stored ones, or for a plaintext password keys derived once per
   * process (random salt, 4096 iterations). Undefined for an unknown user and for a stored entry of the other
   * mechanism.
   */
  scramCredential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    const record = this.#users.get(user);
    if (!record) return undefined;
    if (record.plaintext === undefined) return record.stored.get(mechanism);
    const key = `${mechanism}\u0000${user}`;
    let derived = this.#derived.get(key);
    if (!derived) {
      derived = scramCredentialFor(record.plaintext, mechanism);
      this.#derived.set(key, derived);
    }
    return derived;
  }

  /** The iteration count most of this store's credentials for the mechanism have; unknown users get it too. */
  decoyIterations(mechanism: ScramMechanism): number {
    return this.#decoyIterations.get(mechanism) ?? PLAINTEXT_DERIVED_ITERATIONS;
  }

  #commonIterations(mechanism: ScramMechanism): number {
    const counts = new Map<number, number>();
    for (const record of this.#users.values()) {
      const iterations =
        record.plaintext !== undefined
          ? PLAINTEXT_DERIVED_ITERATIONS
          : record.stored.get(mechanism)?.iterations;
      if (iterations !== undefined) counts.set(iterations, (counts.get(iterations) ?? 0) + 1);
    }
    let best = PLAINTEXT_DERIVED_ITERATIONS;
    let bestCount = 0;
    for (const [iterations, count] of counts) {
      if (count > bestCount) [best, bestCount] = [iterations, count];
    }
    return best;
  }
}

const DECOY_SALT = randomBytes(GENERATED_SALT_BYTES);

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function usernameProblem(name: string): string | undefined {
  if (name === "") return "the username is empty";
  if (name.includes("\u0000")) return "the username contains a NUL character";
  return undefined;
}

function fileUsernameProblem(name: string): string | undefined {
  const problem = usernameProblem(name);
  if (problem) return problem;
  if (name.includes(":")) return "a username in the credential file cannot contain ':'";
  if (/[\r\n]/.test(name)) return "a username cannot contain a line break";
  if (name.trim() !== name) return "a username in the credential file cannot start or end with whitespace";
  if (name.startsWith("#")) return "a username in the credential file cannot start with '#'";
  return undefined;
}

function userRecordFromEntry(entry: unknown, where: string): UserRecord {
  if (typeof entry === "string") return { plaintext: checkedPassword(entry, where), stored: new Map() };
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new CredentialError(
      `${where}: expected a password string, { password }, or stored SCRAM keys (salt, iterations, stored_key, server_key)`,
    );
  }
  const fields = entry as Record<string, unknown>;
  const keys = Object.keys(fields);
  if ("password" in fields) {
    if (keys.length !== 1)
      throw new CredentialError(`${where}: 'password' cannot be combined with other keys`);
    if (typeof fields.password !== "string") throw new CredentialError(`${where}.password: must be a string`);
    return { plaintext: checkedPassword(fields.password, where), stored: new Map() };
  }
  const stored = new Map<ScramMechanism, ScramCredential>();
  if ("salt" in fields) {
    const { mechanism, ...rest } = fields;
    if (mechanism !== undefined && (typeof mechanism !== "string" || !isScramMechanism(mechanism))) {
      throw new CredentialError(`${where}.mechanism: must be SCRAM-SHA-256 or SCRAM-SHA-512`);
    }
    const credential = storedCredentialFromFields(rest, configLabel(where), mechanism);
    stored.set(credential.mechanism, credential.credential);
    return { stored };
  }
  if (keys.length === 0) throw new CredentialError(`${where}: no credential given`);
  for (const key of keys) {
    if (!isScramMechanism(key)) {
      throw new CredentialError(
        `${where}: unknown key '${key}' (expected password, stored SCRAM fields, SCRAM-SHA-256 or SCRAM-SHA-512)`,
      );
    }
    const value = fields[key];
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new CredentialError(`${where}.${key}: expected salt, iterations, stored_key and server_key`);
    }
    const fieldsOfKey = value as Record<string, unknown>;
    stored.set(key, storedCredentialFromFields(fieldsOfKey, configLabel(`${where}.${key}`), key).credential);
  }
  return { stored };
}

function configLabel(where: string): (field?: string) => string {
  return (field) => (field ? `${where}.${field}` : where);
}

function checkedPassword(password: string, where: string): string {
  if (password === "") throw new CredentialError(`${where}: the password is empty`);
  return password;
}

const STORED_FIELD_NAMES = ["salt", "iterations", "stored_key", "server_key"] as const;

/** `label(field)` names a field in messages, `label()` the entry. */
function storedCredentialFromFields(
  fields: Record<string, unknown>,
  label: (field?: string) => string,
  mechanism: ScramMechanism | undefined,
): { mechanism: ScramMechanism; credential: ScramCredential } {
  const where = label();
  for (const key of Object.keys(fields)) {
    if (!(STORED_FIELD_NAMES as readonly string[]).includes(key)) {
      throw new CredentialError(
        `${where}: unknown field '${key}' (expected ${STORED_FIELD_NAMES.join(", ")})`,
      );
    }
  }
  for (const key of STORED_FIELD_NAMES) {
    if (fields[key] === undefined) throw new CredentialError(`${where}: missing field '${key}'`);
  }
  const iterations = fields.iterations;
  if (
    typeof iterations !== "number" ||
    !Number.isSafeInteger(iterations) ||
    iterations < SCRAM_MIN_ITERATIONS
  ) {
    throw new CredentialError(
      `${label("iterations")}: must be an integer of at least ${SCRAM_MIN_ITERATIONS}`,
    );
  }
  const bytes = (key: "salt" | "stored_key" | "server_key"): Buffer => {
    const value = fields[key];
    const decoded = typeof value === "string" ? decodeStrictBase64(value) : undefined;
    if (!decoded || decoded.length === 0)
      throw new CredentialError(`${label(key)}: must be non-empty base64`);
    return decoded;
  };
  const salt = bytes("salt");
  const storedKey = bytes("stored_key");
  const serverKey = bytes("server_key");
  const resolved = mechanism ?? mechanismForKeyLength(storedKey.length);
  if (!resolved) {
    throw new CredentialError(
      `${label("stored_key")}: ${storedKey.length} bytes fits neither SCRAM-SHA-256 (32) nor SCRAM-SHA-512 (64)`,
    );
  }
  const length = scramKeyLength(resolved);
  for (const [key, value] of [
    ["stored_key", storedKey],
    ["server_key", serverKey],
  ] as const) {
    if (value.length !== length) {
      throw new CredentialError(`${label(key)}: ${resolved} keys are ${length} bytes, got ${value.length}`);
    }
  }
  return { mechanism: resolved, credential: { salt, iterations, storedKey, serverKey } };
}

function mechanismForKeyLength(length: number): ScramMechanism | undefined {
  return SCRAM_MECHANISMS.find((m) => scramKeyLength(m) === length);
}

function readCredentialFile(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw new CredentialError(`${file}: cannot read the credential file (${code ?? String(error)})`);
  }
}

function parseCredentialFile(file: string): ParsedLine[] {
  const text = readCredentialFile(file);
  if (text === undefined) throw new CredentialError(`${file}: the credential file does not exist`);
  return parseCredentialText(text, file);
}

const FORMAT_HINT =
  "expected 'username:password' or 'username:SCRAM-SHA-512:salt=…,iterations=…,stored_key=…,server_key=…'";

function parseCredentialText(text: string, file: string): ParsedLine[] {
  const parsed: ParsedLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const raw = lines[index];
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const where = `${file}:${line}`;
    const colon = raw.indexOf(":");
    const user = colon < 0 ? "" : raw.slice(0, colon).trim();
    if (colon < 0 || user === "") throw new CredentialError(`${where}: ${FORMAT_HINT}`);
    const rest = raw.slice(colon + 1);
    const stored = /^(SCRAM-SHA-256|SCRAM-SHA-512):/.exec(rest);
    if (!stored) {
      if (rest === "")
        throw new CredentialError(`${where}: user ${JSON.stringify(user)} has an empty password`);
      parsed.push({ line, user, kind: "plaintext", password: rest });
      continue;
    }
    const mechanism = stored[1] as ScramMechanism;
    const fields: Record<string, unknown> = {};
    for (const part of rest.slice(stored[0].length).trim().split(",")) {
      const equals = part.indexOf("=");
      const key = equals < 0 ? part.trim() : part.slice(0, equals).trim();
      if (equals < 0 || !(STORED_FIELD_NAMES as readonly string[]).includes(key)) {
        throw new CredentialError(
          `${where}: user ${JSON.stringify(user)}: ${mechanism} fields must be ${STORED_FIELD_NAMES.map((f) => `${f}=…`).join(",")}`,
        );
      }
      if (key in fields)
        throw new CredentialError(`${where}: user ${JSON.stringify(user)}: '${key}' given twice`);
      const value = part.slice(equals + 1).trim();
      fields[key] = key === "iterations" ? (/^\d+$/.test(value) ? Number(value) : Number.NaN) : value;
    }
    const entryLabel = `${where}: user ${JSON.stringify(user)}`;
    const { credential } = storedCredentialFromFields(
      fields,
      (field) => (field ? `${entryLabel}: ${field}` : entryLabel),
      mechanism,
    );
    parsed.push({ line, user, kind: "stored", mechanism, credential });
  }
  return parsed;
}

function addParsedLine(users: Map<string, UserRecord>, parsed: ParsedLine, file: string): void {
  const where = `${file}:${parsed.line}`;
  const existing = users.get(parsed.user);
  const duplicate = `${where}: user ${JSON.stringify(parsed.user)} is defined twice`;
  if (parsed.kind === "plaintext") {
    if (existing) throw new CredentialError(duplicate);
    users.set(parsed.user, { plaintext: parsed.password, stored: new Map() });
    return;
  }
  if (existing && (existing.plaintext !== undefined || existing.stored.has(parsed.mechanism))) {
    throw new CredentialError(
      `${duplicate}${existing.plaintext === undefined ? ` for ${parsed.mechanism}` : ""}`,
    );
  }
  const record = existing ?? { stored: new Map() };
  record.stored.set(parsed.mechanism, parsed.credential);
  users.set(parsed.user, record);
}

/**
 * Writes the user's stored SCRAM keys for the mechanism into the credential file, replacing that user's line for
 * the mechanism and any plaintext line of theirs; other lines and comments stay. The file is written to a
 * temporary file with mode 0600 and renamed over the old one, so readers see the old or the new file whole.
 */
export function addStoredUser(
  file: string,
  user: string,
  mechanism: ScramMechanism,
  password: string,
  iterations = 8192,
): void {
  if (!Number.isSafeInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
    throw new CredentialError(`iterations must be an integer of at least ${SCRAM_MIN_ITERATIONS}`);
  }
  if (password === "") throw new CredentialError(`the password for ${JSON.stringify(user)} is empty`);
  const entry = formatStoredEntry(user, mechanism, scramCredentialFor(password, mechanism, iterations));
  const existing = readCredentialFile(file) ?? "";
  const replaced = new Set<number>();
  for (const parsed of parseCredentialText(existing, file)) {
    if (parsed.user !== user) continue;
    if (parsed.kind === "plaintext" || parsed.mechanism === mechanism) replaced.add(parsed.line);
  }
  const lines = existing === "" ? [] : existing.replace(/\r?\n$/, "").split(/\r?\n/);
  const output: string[] = [];
  let written = false;
  lines.forEach((line, index) => {
    if (!replaced.has(index + 1)) output.push(line);
    else if (!written) {
      output.push(entry);
      written = true;
    }
  });
  if (!written) output.push(entry);
  writeFileAtomically(file, `${output.join("\n")}\n`);
}

function writeFileAtomically(file: string, content: string): void {
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
  const descriptor = openSync(temporary, "wx", 0o600);
  try {
    try {
      writeSync(descriptor, content);
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporary, file);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {}
    throw error;
  }
}
