export type ProtocolErrorCode =
  | "TRUNCATED"
  | "NEGATIVE_LENGTH"
  | "NULL_NOT_ALLOWED"
  | "INVALID_UTF8"
  | "INVALID_VARINT"
  | "INVALID_TAG"
  | "INVALID_VALUE"
  | "UNKNOWN_API"
  | "UNSUPPORTED_VERSION"
  | "TOO_LARGE"
  | "TRAILING_BYTES";

/**
 * A malformed or unsupported Kafka protocol message. The message names the API, the version and the
 * field path, e.g. `Metadata request v12: field topics[3].name: length 900 past end of frame (12 bytes left)`.
 *
 * Generated codecs add the context while the error unwinds (struct by struct), so the success path never
 * builds strings.
 */
export class KafkaProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly detail: string;
  #api = "";
  #version = -1;
  /** Path segments, innermost first: field names and array indexes. */
  #reversedPath: (string | number)[] = [];

  constructor(code: ProtocolErrorCode, detail: string, api = "", version = -1) {
    super(detail);
    this.name = "KafkaProtocolError";
    this.code = code;
    this.detail = detail;
    this.#api = api;
    this.#version = version;
    this.#render();
  }

  /** The API and direction, e.g. "Metadata request"; "" when unknown. */
  get api(): string {
    return this.#api;
  }

  /** The message version, -1 when unknown. */
  get version(): number {
    return this.#version;
  }

  /** The field path, e.g. `topics[3].name`; "" for the message itself. */
  get field(): string {
    let path = "";
    for (let i = this.#reversedPath.length - 1; i >= 0; i--) {
      const segment = this.#reversedPath[i];
      if (typeof segment === "number") path += `[${segment}]`;
      else path += path === "" ? segment : `.${segment}`;
    }
    return path;
  }

  /** Records that the failure happened inside field `name` of the enclosing struct. */
  inField(name: string): this {
    this.#reversedPath.push(name);
    this.#render();
    return this;
  }

  /** Records that the failure happened inside element `index` of the enclosing array. */
  atIndex(index: number): this {
    this.#reversedPath.push(index);
    this.#render();
    return this;
  }

  /** Names the message being decoded or encoded, unless an inner codec already did. */
  inMessage(api: string, version: number): this {
    if (this.#api === "") {
      this.#api = api;
      this.#version = version;
      this.#render();
    }
    return this;
  }

  #render(): void {
    const field = this.field;
    let text = "";
    if (this.#api !== "") text = `${this.#api} v${this.#version}: `;
    if (field !== "") text += `field ${field}: `;
    this.message = text + this.detail;
  }
}

/** Converts anything thrown inside a codec into a KafkaProtocolError (a RangeError from Buffer, say). */
export function asProtocolError(error: unknown): KafkaProtocolError {
  if (error instanceof KafkaProtocolError) return error;
  if (error instanceof RangeError) {
    const message = error.message;
    const code = /out of range|must be/i.test(message) ? "INVALID_VALUE" : "TRUNCATED";
    return new KafkaProtocolError(code, message);
  }
  if (error instanceof Error) return new KafkaProtocolError("INVALID_VALUE", error.message);
  return new KafkaProtocolError("INVALID_VALUE", String(error));
}

/** Error-path helper for generated codecs: the failure happened inside field `name`. */
export function fieldError(error: unknown, name: string): KafkaProtocolError {
  return asProtocolError(error).inField(name);
}

/** Error-path helper for generated codecs: the failure happened inside element `index`. */
export function indexError(error: unknown, index: number): KafkaProtocolError {
  return asProtocolError(error).atIndex(index);
}

/** Error-path helper for generated codecs: names the message. */
export function messageError(error: unknown, api: string, version: number): KafkaProtocolError {
  return asProtocolError(error).inMessage(api, version);
}

export function nullNotAllowed(): KafkaProtocolError {
  return new KafkaProtocolError("NULL_NOT_ALLOWED", "null is not allowed at this version");
}

export function unsupportedVersion(
  api: string,
  version: number,
  min: number,
  max: number,
): KafkaProtocolError {
  return new KafkaProtocolError(
    "UNSUPPORTED_VERSION",
    `version ${version} is not supported (supported: ${min}-${max})`,
    api,
    version,
  );
}

export function nonDefaultAtVersion(version: number): KafkaProtocolError {
  return new KafkaProtocolError(
    "UNSUPPORTED_VERSION",
    `a non-default value cannot be written at version ${version}, which lacks the field`,
  );
}

export function tagNotValidAtVersion(tag: number, version: number): KafkaProtocolError {
  return new KafkaProtocolError("INVALID_TAG", `tag ${tag} is not valid at version ${version}`);
}

export function taggedFieldsNotSupported(version: number): KafkaProtocolError {
  return new KafkaProtocolError(
    "UNSUPPORTED_VERSION",
    `tagged fields were set, but version ${version} of this message does not support them`,
  );
}
