import {
  type AclRule,
  ANONYMOUS_PRINCIPAL,
  type AuthorizationSettings,
  EVERY_PRINCIPAL,
  type RuleEffect,
} from "./config.ts";
import {
  type AclOperation,
  authorizedOperationsField,
  grantedBy,
  namedBy,
  operationBit,
  RESOURCE_TYPES,
  type ResourceType,
} from "./operations.ts";

/** A rule ready to match: which names, and the operations it grants or refuses as bit masks. */
interface CompiledRule {
  readonly effect: RuleEffect;
  readonly pattern: string;
  readonly matchesEveryName: boolean;
  readonly prefixed: boolean;
  /** The operations the rule names (all of them for `all`), without implication. */
  readonly named: number;
  /** ALLOW: what it grants, implied operations included. DENY: what it refuses. */
  readonly covers: number;
}

type RulesByResource = Readonly<Record<ResourceType, readonly CompiledRule[]>>;

/** What applies to one principal: its own rules and EVERY_PRINCIPAL's, and its confinement. */
interface Grants {
  readonly confineToPrefix: string | undefined;
  readonly rules: RulesByResource;
}

/** Decisions kept at most; the oldest goes first. */
const DEFAULT_DECISION_CACHE_SIZE = 100_000;
/**
 * A name no client uses, for "may the principal do this to some resource of the type?": Kafka's
 * Authorizer.authorizeByResourceType asks for it first, so that super users and default-allow pass.
 */
const PROBE_NAME = "hardcode";

function compile(rule: AclRule): CompiledRule {
  let named = 0;
  let covers = 0;
  for (const operation of rule.operations) {
    named |= namedBy(operation);
    covers |= rule.effect === "allow" ? grantedBy(operation) : namedBy(operation);
  }
  return {
    effect: rule.effect,
    pattern: rule.pattern,
    matchesEveryName: rule.patternType === "literal" && rule.pattern === "*",
    prefixed: rule.patternType === "prefixed",
    named,
    covers,
  };
}

function matches(rule: CompiledRule, name: string): boolean {
  if (rule.matchesEveryName) return true;
  return rule.prefixed ? name.startsWith(rule.pattern) : name === rule.pattern;
}

function byResource(rules: readonly AclRule[]): RulesByResource {
  const out = Object.fromEntries(RESOURCE_TYPES.map((type) => [type, [] as CompiledRule[]])) as Record<
    ResourceType,
    CompiledRule[]
  >;
  for (const rule of rules) out[rule.resource].push(compile(rule));
  return out;
}

/**
 * Decides, per principal, whether an operation on a resource is allowed, as Kafka's StandardAuthorizer does:
 * super users may do everything; a DENY rule matching the resource and naming the operation (or `all`) refuses
 * it, whatever allows it; otherwise an ALLOW rule naming it, or an operation that implies it, grants it; when
 * no rule of any principal matches the resource, the default applies, and otherwise the answer is no. A
 * principal confined to a prefix may use no topic, group or transactional id outside it.
 *
 * Rules are compiled once; decisions are cached per principal, resource, name and operation.
 */
export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private readonly allowAnonymous: boolean;
  private readonly defaultAllows: boolean;
  private readonly grantsByPrincipal = new Map<string, Grants>();
  private readonly grantsOfOthers: Grants;
  private readonly everyPrincipalsRules: RulesByResource;
  private readonly decisions = new Map<string, boolean>();
  private readonly cacheSize: number;

  constructor(settings: AuthorizationSettings, cacheSize = DEFAULT_DECISION_CACHE_SIZE) {
    this.superUsers = new Set(settings.superUsers);
    this.allowAnonymous = settings.allowAnonymous;
    this.defaultAllows = settings.defaultEffect === "allow";
    this.cacheSize = cacheSize;
    const shared = settings.principals.get(EVERY_PRINCIPAL)?.rules ?? [];
    this.grantsOfOthers = { confineToPrefix: undefined, rules: byResource(shared) };
    const everyRule: AclRule[] = [];
    for (const [name, principal] of settings.principals) {
      everyRule.push(...principal.rules);
      if (name === EVERY_PRINCIPAL) continue;
      this.grantsByPrincipal.set(name, {
        confineToPrefix: principal.confineToPrefix,
        rules: byResource([...principal.rules, ...shared]),
      });
    }
    this.everyPrincipalsRules = byResource(everyRule);
  }

  /** Whether requests of this principal need checking at all (false: it may do everything). */
  needsChecks(principal: string | undefined): boolean {
    return principal === undefined || !this.superUsers.has(principal);
  }

  /** Whether the principal may do anything at all: false for anonymous clients unless allow_anonymous. */
  admits(principal: string | undefined): boolean {
    return principal !== undefined || this.allowAnonymous;
  }

  isSuperUser(principal: string | undefined): boolean {
    return principal !== undefined && this.superUsers.has(principal);
  }

  /** The prefix the principal is confined to, if any. */
  confinementOf(principal: string | undefined): string | undefined {
    if (this.isSuperUser(principal)) return undefined;
    return this.grantsOf(principal)?.confineToPrefix;
  }

  allowed(
    principal: string | undefined,
    resource: ResourceType,
    name: string,
    operation: AclOperation,
  ): boolean {
    if (principal === undefined && !this.allowAnonymous) return false;
    if (principal !== undefined && this.superUsers.has(principal)) return true;
    const subject = principal ?? ANONYMOUS_PRINCIPAL;
    const key = `${subject}\u0000${resource}\u0000${operation}\u0000${name}`;
    const known = this.decisions.get(key);
    if (known !== undefined) return known;
    const decision = this.decide(this.grantsOf(principal)!, resource, name, operation);
    if (this.decisions.size >= this.cacheSize) {
      this.decisions.delete(this.decisions.keys().next().value!);
    }
    this.decisions.set(key, decision);
    return decision;
  }

  /**
   * Whether the principal may do `operation` to some resource of the type (Kafka's authorizeByResourceType,
   * which InitProducerId asks for WRITE on topics): some ALLOW rule naming the operation that no DENY rule
   * covers entirely.
   */
  allowedOnSome(principal: string | undefined, resource: ResourceType, operation: AclOperation): boolean {
    if (principal === undefined && !this.allowAnonymous) return false;
    if (this.isSuperUser(principal)) return true;
    const grants = this.grantsOf(principal)!;
    const within = resource === "cluster" ? "" : (grants.confineToPrefix ?? "");
    if (this.allowed(principal, resource, within + PROBE_NAME, operation)) return true;
    const bit = operationBit(operation);
    const deniedNames = new Set<string>();
    const deniedPrefixes: string[] = [];
    const allowedNames: string[] = [];
    const allowedPrefixes: string[] = [];
    for (const rule of grants.rules[resource]) {
      if ((rule.named & bit) === 0) continue;
      if (rule.effect === "deny") {
        if (rule.matchesEveryName) return false;
        if (rule.prefixed) deniedPrefixes.push(rule.pattern);
        else deniedNames.add(rule.pattern);
      } else if (rule.matchesEveryName) {
        allowedPrefixes.push(within);
      } else if (!rule.prefixed) {
        if (rule.pattern.startsWith(within)) allowedNames.push(rule.pattern);
      } else if (rule.pattern.startsWith(within)) {
        allowedPrefixes.push(rule.pattern);
      } else if (within.startsWith(rule.pattern)) {
        allowedPrefixes.push(within);
      }
    }
    const dominated = (name: string) => deniedPrefixes.some((prefix) => name.startsWith(prefix));
    return (
      allowedNames.some((name) => !deniedNames.has(name) && !dominated(name)) ||
      allowedPrefixes.some((prefix) => !dominated(prefix))
    );
  }

  /** The `authorizedOperations` bit field of what the principal may do to the resource. */
  authorizedOperations(principal: string | undefined, resource: ResourceType, name: string): number {
    return authorizedOperationsField(resource, (operation) =>
      this.allowed(principal, resource, name, operation),
    );
  }

  private grantsOf(principal: string | undefined): Grants | undefined {
    if (principal === undefined && !this.allowAnonymous) return undefined;
    return this.grantsByPrincipal.get(principal ?? ANONYMOUS_PRINCIPAL) ?? this.grantsOfOthers;
  }

  private decide(grants: Grants, resource: ResourceType, name: string, operation: AclOperation): boolean {
    if (
      resource !== "cluster" &&
      grants.confineToPrefix !== undefined &&
      !name.startsWith(grants.confineToPrefix)
    ) {
      return false;
    }
    const bit = operationBit(operation);
    let granted = false;
    for (const rule of grants.rules[resource]) {
      if ((rule.covers & bit) === 0 || !matches(rule, name)) continue;
      if (rule.effect === "deny") return false;
      granted = true;
    }
    if (granted || !this.defaultAllows) return granted;
    return !this.everyPrincipalsRules[resource].some((rule) => matches(rule, name));
  }
}
