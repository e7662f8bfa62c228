/**
 * The `authorization` section of the proxy's config: who may do what, per principal, in the spirit of Kafka's
 * ACLs. `authorizationConfigSchema` validates the section (every problem carries its field path);
 * `normalizeAuthorization` turns the validated section into `AuthorizationSettings`; `parseAuthorization` does
 * both for a raw section.
 */
import { z } from "zod";
import {
  ACL_OPERATIONS,
  type AclOperation,
  CLUSTER_NAME,
  OPERATIONS_ON,
  RESOURCE_TYPES,
  type ResourceType,
} from "./operations.ts";

/** The key of `principals` whose rules every principal gets, besides its own. */
export const EVERY_PRINCIPAL = "*";
/**
 * The name whose rules apply to clients that did not authenticate, when `allow_anonymous` is true (Kafka calls
 * them User:ANONYMOUS too).
 */
export const ANONYMOUS_PRINCIPAL = "ANONYMOUS";

export type RuleEffect = "allow" | "deny";
export type PatternType = "literal" | "prefixed";

export interface AclRule {
  readonly effect: RuleEffect;
  readonly resource: ResourceType;
  /** A name, a prefix (`prefixed`) or, literal, "*" for every name. */
  readonly pattern: string;
  readonly patternType: PatternType;
  readonly operations: readonly AclOperation[];
}

export interface PrincipalSettings {
  /** Topics, groups and transactional ids outside this prefix do not exist for the principal, whatever the rules. */
  readonly confineToPrefix: string | undefined;
  readonly rules: readonly AclRule[];
}

export interface AuthorizationSettings {
  readonly enabled: boolean;
  /** Whether clients without a principal may do what the ANONYMOUS_PRINCIPAL rules allow; else they may do nothing. */
  readonly allowAnonymous: boolean;
  /** Principals that may do everything. */
  readonly superUsers: readonly string[];
  /** What a request gets when no rule (of any principal) matches the resource: Kafka's allow.everyone.if.no.acl.found. */
  readonly defaultEffect: RuleEffect;
  /** Rules by principal name; EVERY_PRINCIPAL's apply to everyone. */
  readonly principals: ReadonlyMap<string, PrincipalSettings>;
}

export const DISABLED_AUTHORIZATION: AuthorizationSettings = {
  enabled: false,
  allowAnonymous: false,
  superUsers: [],
  defaultEffect: "deny",
  principals: new Map(),
};

/** Booleans may come as text, from `${ENV}` substitution. */
const flag = () =>
  z.preprocess((value) => (value === "true" ? true : value === "false" ? false : value), z.boolean());

const effect = z.enum(["allow", "deny"]);

const rule = z
  .object({
    effect,
    resource: z.enum(RESOURCE_TYPES),
    /** Required except for cluster rules (there is one cluster). */
    pattern: z.string().min(1).optional(),
    pattern_type: z.enum(["literal", "prefixed"]).default("literal"),
    operations: z.array(z.enum(ACL_OPERATIONS as [AclOperation, ...AclOperation[]])).min(1),
  })
  .strict()
  .superRefine((value, context) => {
    if (value.pattern === undefined && value.resource !== "cluster") {
      context.addIssue({
        code: "custom",
        path: ["pattern"],
        message: `a ${value.resource} rule needs a pattern (a name, a prefix with pattern_type: prefixed, or "*")`,
      });
    }
    if (value.resource === "cluster" && value.pattern !== undefined && !matchesClusterName(value)) {
      context.addIssue({
        code: "custom",
        path: ["pattern"],
        message: `a cluster rule's pattern must be "${CLUSTER_NAME}" or "*" (there is one cluster)`,
      });
    }
    const supported = OPERATIONS_ON[value.resource];
    value.operations.forEach((operation, i) => {
      if (operation !== "all" && !supported.includes(operation)) {
        context.addIssue({
          code: "custom",
          path: ["operations", i],
          message: `"${operation}" is not an operation on ${value.resource} (one of: all, ${supported.join(", ")})`,
        });
      }
    });
  });

const principal = z
  .object({
    confine_to_prefix: z.string().min(1).optional(),
    rules: z.array(rule).default([]),
  })
  .strict();

export const authorizationConfigSchema = z
  .object({
    /** True when the section is there and does not say otherwise; an absent section disables authorization. */
    enabled: flag().default(true),
    allow_anonymous: flag().default(false),
    super_users: z.array(z.string().min(1)).default([]),
    default: effect.default("deny"),
    principals: z.record(z.string().min(1), principal).default({}),
  })
  .strict()
  .superRefine((value, context) => {
    if (value.principals[EVERY_PRINCIPAL]?.confine_to_prefix !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["principals", EVERY_PRINCIPAL, "confine_to_prefix"],
        message: `confine_to_prefix confines one principal; "${EVERY_PRINCIPAL}" holds rules only`,
      });
    }
  });

export type AuthorizationConfig = z.output<typeof authorizationConfigSchema>;
type RuleConfig = z.output<typeof rule>;

function matchesClusterName(value: { pattern?: string | undefined; pattern_type: PatternType }): boolean {
  const pattern = value.pattern ?? "*";
  if (value.pattern_type === "prefixed") return CLUSTER_NAME.startsWith(pattern);
  return pattern === "*" || pattern === CLUSTER_NAME;
}

function normalizeRule(config: RuleConfig): AclRule {
  return {
    effect: config.effect,
    resource: config.resource,
    pattern: config.pattern ?? "*",
    patternType: config.pattern_type,
    operations: [...new Set(config.operations)],
  };
}

/** The settings of a validated section; undefined (no section) disables authorization. */
export function normalizeAuthorization(config: AuthorizationConfig | undefined): AuthorizationSettings {
  if (config === undefined) return DISABLED_AUTHORIZATION;
  const principals = new Map<string, PrincipalSettings>();
  for (const [name, entry] of Object.entries(config.principals)) {
    principals.set(name, { confineToPrefix: entry.confine_to_prefix, rules: entry.rules.map(normalizeRule) });
  }
  return {
    enabled: config.enabled,
    allowAnonymous: config.allow_anonymous,
    superUsers: [...new Set(config.super_users)],
    defaultEffect: config.default,
    principals,
  };
}

/** The section is invalid; `problems` lists each, as `field.path: what is wrong`. */
export class AuthorizationConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid authorization config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "AuthorizationConfigError";
    this.problems = problems;
  }
}

function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(root)";
}

/**
 * Validates and normalizes a raw `authorization` section (as read from YAML; undefined when absent). Throws an
 * AuthorizationConfigError naming every problem by its path below `root`.
 */
export function parseAuthorization(raw: unknown, root = "authorization"): AuthorizationSettings {
  if (raw === undefined || raw === null) return DISABLED_AUTHORIZATION;
  const result = authorizationConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new AuthorizationConfigError(
      result.error.issues.map((issue) => `${fieldPath(root, issue.path)}: ${issue.message}`),
    );
  }
  return normalizeAuthorization(result.data);
}
