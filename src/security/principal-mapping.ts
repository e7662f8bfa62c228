import type { PeerCertificate } from "node:tls";

/** A mapping rule list that does not parse, or a distinguished name no rule maps. */
export class PrincipalMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrincipalMappingError";
  }
}

/** No rule applied to a distinguished name (Kafka's `NoMatchingRule`). */
export class NoMatchingRuleError extends PrincipalMappingError {
  constructor(message: string) {
    super(message);
    this.name = "NoMatchingRuleError";
  }
}

type Rule =
  | { kind: "default" }
  | {
      kind: "rule";
      pattern: string;
      whole: RegExp;
      all: RegExp;
      groupCount: number;
      replacement: string;
      caseChange: "lower" | "upper" | undefined;
    };

/**
 * Kafka's `ssl.principal.mapping.rules`: `DEFAULT` keeps the distinguished name; `RULE:pattern/replacement/`
 * with an optional `L` or `U` after the last `/` applies when the pattern matches the whole name and then
 * replaces every match of the pattern (so `$1` is the first group), lower- or upper-casing the result. Inside
 * pattern and replacement a backslash escapes the next character, so `\/` is a `/`. The first rule that applies
 * wins; when none applies, `map` throws NoMatchingRuleError. Patterns are JavaScript regular expressions,
 * which agree with Java's for the constructs such rules use; a leading `(?i)` becomes the `i` flag.
 */
export class PrincipalMapper {
  readonly #rules: Rule[];

  private constructor(rules: Rule[]) {
    this.#rules = rules;
  }

  /**
   * A comma-separated rule string, split as Kafka splits it (a rule runs to the first comma after its closing
   * `/`, so commas inside the pattern or replacement are kept), or a list with one rule per element. Empty rules
   * are skipped; an empty list maps nothing.
   */
  static parse(rules: string | string[]): PrincipalMapper {
    const texts = typeof rules === "string" ? splitRules(rules) : rules.map((rule) => rule.trim());
    return new PrincipalMapper(texts.flatMap((text) => parseRule(text)));
  }

  /** The principal name for the distinguished name; throws NoMatchingRuleError when no rule applies. */
  map(distinguishedName: string): string {
    for (const rule of this.#rules) {
      const name = applyRule(rule, distinguishedName);
      if (name !== undefined) return name;
    }
    throw new NoMatchingRuleError(`No rules apply to ${distinguishedName}, rules ${this.describeRules()}`);
  }

  /** The parsed rules in Kafka's notation, e.g. `[RULE:^CN=(.*?),OU=x.*$/$1/L, DEFAULT]`. */
  describeRules(): string {
    return `[${this.#rules.map(describeRule).join(", ")}]`;
  }
}

function describeRule(rule: Rule): string {
  if (rule.kind === "default") return "DEFAULT";
  const suffix = rule.caseChange === "lower" ? "/L" : rule.caseChange === "upper" ? "/U" : "";
  return `RULE:${rule.pattern}/${rule.replacement}${suffix}`;
}

const WHITESPACE = new Set([" ", "\t", "\n", "\u000b", "\f", "\r"]);
const LINE_BREAKS = new Set(["\n", "\r", "\u0085", "\u2028", "\u2029"]);

/** Java's `String.trim`: strips characters up to U+0020 at both ends. */
function javaTrim(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) <= 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) <= 0x20) end--;
  return text.slice(start, end);
}

/** Where a rule ends at `at`: the position after the separating comma (and blanks), or the end. */
function separatorAfter(text: string, at: number): number | undefined {
  let position = at;
  while (position < text.length && WHITESPACE.has(text[position])) position++;
  if (position === text.length) return position;
  if (text[position] !== ",") return undefined;
  position++;
  while (position < text.length && WHITESPACE.has(text[position])) position++;
  return position;
}

/** The first position from `from` where a separator starts; line breaks end the search. */
function ruleEnd(text: string, from: number): { end: number; next: number } | undefined {
  for (let position = from; position <= text.length; position++) {
    const next = separatorAfter(text, position);
    if (next !== undefined) return { end: position, next };
    if (LINE_BREAKS.has(text[position])) return undefined;
  }
  return undefined;
}

/** The index of the `/` ending a pattern or replacement that starts at `from`, or -1. */
function segmentEnd(text: string, from: number): number {
  let position = from;
  while (position < text.length) {
    const char = text[position];
    if (char === "/") return position;
    if (char === "\\") {
      if (position + 1 >= text.length || LINE_BREAKS.has(text[position + 1])) return -1;
      position += 2;
    } else position++;
  }
  return -1;
}

function splitRules(rules: string): string[] {
  const text = javaTrim(rules);
  const result: string[] = [];
  let position = 0;
  while (position < text.length) {
    while (position < text.length && WHITESPACE.has(text[position])) position++;
    const start = position;
    let found: { end: number; next: number } | undefined;
    if (text.startsWith("DEFAULT", start)) {
      const next = separatorAfter(text, start + "DEFAULT".length);
      if (next !== undefined) found = { end: start + "DEFAULT".length, next };
    }
    if (!found && text.startsWith("RULE:", start)) {
      const patternEnd = segmentEnd(text, start + "RULE:".length);
      const replacementEnd = patternEnd < 0 ? -1 : segmentEnd(text, patternEnd + 1);
      if (replacementEnd >= 0) found = ruleEnd(text, replacementEnd + 1);
    }
    found ??= ruleEnd(text, start);
    if (!found) {
      throw new PrincipalMappingError(
        `Invalid rules: a rule may not contain a line break: \`${text.slice(start)}\``,
      );
    }
    result.push(text.slice(start, found.end));
    position = found.next;
  }
  return result;
}

function parseRule(text: string): Rule[] {
  if (text === "") return [];
  if (text.startsWith("DEFAULT")) {
    if (text === "DEFAULT") return [{ kind: "default" }];
    throw unmatched(text, "DEFAULT".length);
  }
  const patternStart = "RULE:".length;
  const patternEnd = text.startsWith("RULE:") ? segmentEnd(text, patternStart) : -1;
  const replacementEnd = patternEnd < 0 ? -1 : segmentEnd(text, patternEnd + 1);
  if (replacementEnd < 0) throw new PrincipalMappingError(`Invalid rule: ${text}`);
  let end = replacementEnd + 1;
  const flag = text[end];
  if (flag === "L" || flag === "U") end++;
  if (end !== text.length) throw unmatched(text, end);
  const pattern = text.slice(patternStart, patternEnd);
  const replacement = text.slice(patternEnd + 1, replacementEnd);
  const caseChange = flag === "L" ? "lower" : flag === "U" ? "upper" : undefined;
  return [compileRule(text, pattern, replacement, caseChange)];
}

function unmatched(text: string, end: number): PrincipalMappingError {
  return new PrincipalMappingError(`Invalid rule: \`${text}\`, unmatched substring: \`${text.slice(end)}\``);
}

function compileRule(
  text: string,
  pattern: string,
  replacement: string,
  caseChange: "lower" | "upper" | undefined,
): Rule {
  const caseInsensitive = pattern.startsWith("(?i)");
  const source = caseInsensitive ? pattern.slice("(?i)".length) : pattern;
  const flags = caseInsensitive ? "i" : "";
  let whole: RegExp;
  let all: RegExp;
  try {
    whole = new RegExp(`^(?:${source})$`, flags);
    all = new RegExp(source, `${flags}g`);
  } catch (error) {
    throw new PrincipalMappingError(
      `Invalid rule: ${text}: the pattern does not compile: ${(error as Error).message}`,
    );
  }
  const groupCount = new RegExp(`${source}|`, flags).exec("")!.length - 1;
  const rule: Rule = { kind: "rule", pattern, whole, all, groupCount, replacement, caseChange };
  const problem = replacementProblem(replacement, groupCount);
  if (problem) throw new PrincipalMappingError(`Invalid rule: ${text}: ${problem}`);
  return rule;
}

function applyRule(rule: Rule, distinguishedName: string): string | undefined {
  if (rule.kind === "default") return distinguishedName;
  if (!rule.whole.test(distinguishedName)) return undefined;
  const name = distinguishedName.replace(rule.all, (...args) => expandReplacement(rule, groupsOf(args)));
  if (rule.caseChange === "lower") return name.toLowerCase();
  if (rule.caseChange === "upper") return name.toUpperCase();
  return name;
}

interface MatchGroups {
  numbered: (string | undefined)[];
  named: Record<string, string | undefined> | undefined;
}

/** The groups out of a `String.replace` callback's arguments: match, groups…, offset, input[, named]. */
function groupsOf(args: unknown[]): MatchGroups {
  const hasNamed = typeof args[args.length - 1] === "object" && args[args.length - 1] !== null;
  const named = hasNamed ? (args[args.length - 1] as Record<string, string | undefined>) : undefined;
  const numbered = args.slice(0, args.length - (hasNamed ? 3 : 2)) as (string | undefined)[];
  return { numbered, named };
}

/**
 * Java's replacement syntax as Kafka uses it: `\x` is a literal x, `$n` a group with Java's rule for multi-digit
 * numbers (take digits while the number stays a group), `${name}` a named group; a `$n` naming no group is literal
 * text when the pattern has groups, as Kafka escapes such references.
 */
function expandReplacement(rule: Extract<Rule, { kind: "rule" }>, groups: MatchGroups): string {
  let out = "";
  const text = rule.replacement;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\\") {
      out += text[++i];
    } else if (char === "$" && text[i + 1] === "{") {
      const close = text.indexOf("}", i);
      out += groups.named?.[text.slice(i + 2, close)] ?? "";
      i = close;
    } else if (char === "$") {
      const reference = groupReference(text, i + 1, rule.groupCount);
      if (reference.group > rule.groupCount) out += text.slice(i, reference.end);
      else out += groups.numbered[reference.group] ?? "";
      i = reference.end - 1;
    } else out += char;
  }
  return out;
}

function groupReference(text: string, from: number, groupCount: number): { group: number; end: number } {
  let group = Number(text[from]);
  let end = from + 1;
  while (end < text.length && /[0-9]/.test(text[end])) {
    const longer = group * 10 + Number(text[end]);
    if (longer > groupCount) break;
    group = longer;
    end++;
  }
  return { group, end };
}

function replacementProblem(replacement: string, groupCount: number): string | undefined {
  for (let i = 0; i < replacement.length; i++) {
    const char = replacement[i];
    if (char === "\\") {
      if (i + 1 >= replacement.length) return "the replacement ends with a lone backslash";
      i++;
    } else if (char === "$") {
      if (replacement[i + 1] === "{") {
        const close = replacement.indexOf("}", i);
        if (close < 0) return "the replacement has an unclosed ${";
        i = close;
      } else if (!/[0-9]/.test(replacement[i + 1] ?? "")) {
        return "a '$' in the replacement must be followed by a group number (write \\$ for a literal $)";
      } else {
        const reference = groupReference(replacement, i + 1, groupCount);
        if (groupCount === 0 && reference.group > 0) {
          return `the replacement refers to group ${reference.group} but the pattern has no groups`;
        }
        i = reference.end - 1;
      }
    }
  }
  return undefined;
}

const RFC2253_KEYWORDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.9": "STREET",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
};

/**
 * The certificate subject as Java's `X500Principal.getName()` (RFC 2253) gives it, which is what Kafka maps: the
 * most specific RDN first (`CN=alice,OU=eng,O=Acme,C=US`), the attributes of a multi-valued RDN joined by `+`
 * in encoded order, types other than CN, C, L, ST, O, OU, STREET, DC and UID as dotted OIDs with the value
 * as `#` and the hex of its DER encoding, and Java's escaping.
 */
export function distinguishedName(cert: PeerCertificate): string {
  if (!cert.raw || cert.raw.length === 0) throw new PrincipalMappingError("the peer sent no certificate");
  return subjectToRfc2253(certificateSubject(cert.raw));
}

interface Der {
  tag: number;
  /** The whole element: tag, length and contents. */
  encoded: Buffer;
  contents: Buffer;
}

function readDer(buffer: Buffer, offset: number): Der {
  const fail = () => new PrincipalMappingError("the certificate is not valid DER");
  if (offset + 2 > buffer.length) throw fail();
  const tag = buffer[offset];
  let length = buffer[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4 || offset + 2 + lengthBytes > buffer.length) throw fail();
    length = 0;
    for (let i = 0; i < lengthBytes; i++) length = length * 256 + buffer[offset + 2 + i];
    header += lengthBytes;
  }
  const end = offset + header + length;
  if (end > buffer.length) throw fail();
  return { tag, encoded: buffer.subarray(offset, end), contents: buffer.subarray(offset + header, end) };
}

function children(element: Der): Der[] {
  const out: Der[] = [];
  let offset = 0;
  while (offset < element.contents.length) {
    const child = readDer(element.contents, offset);
    out.push(child);
    offset += child.encoded.length;
  }
  return out;
}

const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_OID = 0x06;
const TAG_EXPLICIT_VERSION = 0xa0;

interface Attribute {
  oid: string;
  value: Der;
}

/** The subject RDNs of a DER certificate, in encoded order (most general first). */
function certificateSubject(raw: Buffer): Attribute[][] {
  const certificate = readDer(raw, 0);
  const tbs = certificate.tag === TAG_SEQUENCE ? children(certificate)[0] : undefined;
  if (tbs?.tag !== TAG_SEQUENCE) throw new PrincipalMappingError("the certificate has no TBSCertificate");
  const fields = children(tbs);
  const first = fields[0]?.tag === TAG_EXPLICIT_VERSION ? 1 : 0;
  const subject = fields[first + 4];
  if (subject?.tag !== TAG_SEQUENCE) throw new PrincipalMappingError("the certificate has no subject");
  return children(subject).map((rdn) => {
    if (rdn.tag !== TAG_SET) throw new PrincipalMappingError("the certificate subject is malformed");
    return children(rdn).map((attribute) => {
      const [type, value] = children(attribute);
      if (attribute.tag !== TAG_SEQUENCE || type?.tag !== TAG_OID || !value) {
        throw new PrincipalMappingError("the certificate subject is malformed");
      }
      return { oid: decodeOid(type.contents), value };
    });
  });
}

function decodeOid(bytes: Buffer): string {
  const arcs: bigint[] = [];
  let arc = 0n;
  for (const byte of bytes) {
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  const head = arcs.shift() ?? 0n;
  const first = head < 40n ? 0n : head < 80n ? 1n : 2n;
  return [first, head - first * 40n, ...arcs].join(".");
}

/**
 * The tags Java renders as text: PrintableString, T61String, IA5String, GeneralString, BMPString, UTF8String.
 * Java reads the contents of all of them as UTF-8, BMPString included, and so does this.
 */
const STRING_TAGS = new Set([0x13, 0x14, 0x16, 0x1b, 0x1e, 0x0c]);

function subjectToRfc2253(rdns: Attribute[][]): string {
  return rdns
    .toReversed()
    .map((rdn) => rdn.map(attributeToRfc2253).join("+"))
    .join(",");
}

function attributeToRfc2253({ oid, value }: Attribute): string {
  const keyword = RFC2253_KEYWORDS[oid];
  if (!keyword || !STRING_TAGS.has(value.tag)) return `${keyword ?? oid}=#${value.encoded.toString("hex")}`;
  return `${keyword}=${escapeRfc2253Value(value.contents.toString("utf8"))}`;
}

function escapeRfc2253Value(value: string): string {
  const escaped = value.replace(/[,=+<>#;"\\]/g, "\\$&").replaceAll("\u0000", "\\00");
  const leading = /^[ \r]*/.exec(escaped)![0].length;
  const trailing = escaped.length - leading === 0 ? 0 : /[ \r]*$/.exec(escaped)![0].length;
  let out = "";
  for (let i = 0; i < escaped.length; i++) {
    if (i < leading || i >= escaped.length - trailing) out += "\\";
    out += escaped[i];
  }
  return out;
}
