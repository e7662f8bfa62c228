import { decodeSaslName } from "../scram.ts";

/** RFC 7628 separates OAUTHBEARER's key=value pairs with ^A. */
const KEY_VALUE_SEPARATOR = "\u0001";

/**
 * The user a client's first SASL message names, read without checking anything (the broker checks it in
 * passthrough mode): PLAIN's authcid, SCRAM's `n=`, OAUTHBEARER's token `sub`. Undefined when the message does not
 * name one in a form this knows.
 */
export function claimedUser(mechanism: string, firstMessage: Buffer): string | undefined {
  const text = firstMessage.toString("utf8");
  if (mechanism === "PLAIN") {
    const parts = text.split("\0");
    return parts.length === 3 && parts[1] ? parts[1] : undefined;
  }
  if (mechanism === "SCRAM-SHA-256" || mechanism === "SCRAM-SHA-512") {
    const name = /^[ny],(?:a=[^,]*)?,n=([^,]*),/.exec(text)?.[1];
    return name ? decodeSaslName(name) : undefined;
  }
  if (mechanism === "OAUTHBEARER") {
    const auth = text.split(KEY_VALUE_SEPARATOR).find((pair) => pair.startsWith("auth=Bearer "));
    const token = auth?.slice("auth=Bearer ".length);
    const payload = token?.split(".")[1];
    if (!payload) return undefined;
    try {
      const sub = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown }).sub;
      return typeof sub === "string" && sub !== "" ? sub : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
