/** What a redacted value shows instead. */
export const REDACTED = "[redacted]";

/**
 * Config fields that hold a secret, by name: passwords, client secrets, tokens, key passwords, and the parts of
 * stored SCRAM credentials. File paths and URLs name where a secret is kept, not the secret, and stay visible.
 */
const SECRET_FIELD = /pass(word|phrase)?|secret|token|(^|_)key$|^salt$|^stored_key$|^server_key$/i;
const REFERENCE_FIELD = /_(path|file|url)$/i;

/**
 * Config maps whose every value is a secret whatever its key is called (schema knowledge): the users of
 * `listen.security.sasl.credentials.users` map a user name to a password or to stored SCRAM credentials.
 */
const SECRET_MAPS: readonly (readonly string[])[] = [["listen", "security", "sasl", "credentials", "users"]];

/** Environment variables whose name says they hold a secret: their values are hidden wherever they appear. */
const SECRET_ENV_NAME = /pass(word)?|secret|token|credential|(^|_)key(_|$)|private/i;
/** Values shorter than this are not searched for (a short value would hide unrelated text). */
const MIN_ENV_SECRET_LENGTH = 4;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name) && !REFERENCE_FIELD.test(name);
}

/** Values of the environment's secret-named variables, longest first (so that one inside another is still hidden). */
export function secretEnvValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= MIN_ENV_SECRET_LENGTH && SECRET_ENV_NAME.test(name)) values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

function isUnderSecretMap(path: readonly string[]): boolean {
  return SECRET_MAPS.some((map) => path.length > map.length && map.every((part, i) => part === path[i]));
}

function hideEnvValues(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * A copy of a (parsed) config with every secret replaced by REDACTED: fields named as secrets, every value of the
 * secret maps, and any text that holds the value of a secret-named environment variable (a `${ENV}` reference).
 */
export function redactConfig(value: unknown, envSecrets: readonly string[] = secretEnvValues()): unknown {
  const walk = (item: unknown, path: string[]): unknown => {
    if (typeof item === "string") return hideEnvValues(item, envSecrets);
    if (Array.isArray(item)) return item.map((entry, i) => walk(entry, [...path, String(i)]));
    if (item instanceof RegExp) return item.source;
    if (item && typeof item === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(item)) {
        const entryPath = [...path, key];
        if (entry === undefined) continue;
        out[key] =
          entry !== null && (isSecretField(key) || isUnderSecretMap(entryPath))
            ? REDACTED
            : walk(entry, entryPath);
      }
      return out;
    }
    return item;
  };
  return walk(value, []);
}
