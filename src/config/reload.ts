import type { ParsedConfig } from "./schema.ts";

/** A place in the config file: the keys from the root (a key may itself hold dots, as a topic pattern does). */
export type ConfigPath = readonly string[];

export function formatConfigPath(path: ConfigPath): string {
  return path.join(".");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The paths where `after` differs from `before`: objects key by key, anything else (lists too) as a whole. */
export function changedPaths(before: unknown, after: unknown, path: ConfigPath = []): ConfigPath[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const out: ConfigPath[] = [];
    for (const key of keys) out.push(...changedPaths(before[key], after[key], [...path, key]));
    return out;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

/**
 * How a changed setting is taken on reload:
 * - `apply`: at once (log level, credentials, authorization rules, quotas, metrics settings, the admin token);
 * - `check`: at once unless it would move data the brokers already hold (virtualization rules, topic routing);
 * - `restart`: only by a restart (listeners, clusters, timeouts, limits...); logged as such.
 */
export type ReloadKind = "apply" | "check" | "restart";

/** First matching prefix wins; a path no prefix matches needs a restart. */
const RELOAD_RULES: readonly (readonly [prefix: ConfigPath, kind: ReloadKind])[] = [
  [["logging", "level"], "apply"],
  [["authorization"], "apply"],
  [["quotas"], "apply"],
  [["admin", "token"], "apply"],
  [["listen", "security", "sasl", "credentials"], "apply"],
  [["metrics", "enabled"], "restart"],
  [["metrics", "address"], "restart"],
  [["metrics"], "apply"],
  [["mapping", "topics"], "check"],
  [["mapping", "virtual_partitions"], "check"],
  [["mapping", "physical_partitions"], "check"],
  [["mapping", "never_virtualize"], "check"],
  [["routing", "topics"], "check"],
];

function startsWith(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => path[i] === key);
}

export function reloadKindOf(path: ConfigPath): ReloadKind {
  return RELOAD_RULES.find(([prefix]) => startsWith(path, prefix))?.[1] ?? "restart";
}

/** Which of the `check` changes concern which rules. */
export function isVirtualizationPath(path: ConfigPath): boolean {
  return path[0] === "mapping";
}

export function isTopicRoutingPath(path: ConfigPath): boolean {
  return path[0] === "routing";
}

export interface ReloadPlan {
  /** Taken at once. */
  apply: ConfigPath[];
  /** Virtualization rule changes, taken unless an existing topic's data would move. */
  virtualization: ConfigPath[];
  /** Topic routing changes, taken unless an existing topic would change cluster. */
  routing: ConfigPath[];
  /** Not taken: each with why. */
  restart: { path: ConfigPath; reason: string }[];
}

/**
 * Sorts what changed between the running config and the reloaded file. `virtualizationRunning`: whether the
 * running chain holds the virtualization feature (without it, the first rules need a restart to add it).
 */
export function planReload(
  before: ParsedConfig,
  after: ParsedConfig,
  virtualizationRunning: boolean,
): ReloadPlan {
  const plan: ReloadPlan = { apply: [], virtualization: [], routing: [], restart: [] };
  for (const path of changedPaths(before, after)) {
    const kind = reloadKindOf(path);
    if (kind === "apply") plan.apply.push(path);
    else if (kind === "restart") plan.restart.push({ path, reason: "takes effect after a restart" });
    else if (isVirtualizationPath(path) && !virtualizationRunning)
      plan.restart.push({ path, reason: "the first virtualization rules need a restart to add the feature" });
    else if (isVirtualizationPath(path)) plan.virtualization.push(path);
    else plan.routing.push(path);
  }
  return plan;
}

/** A copy of `base` with the value at each of `paths` taken from `source` (absent there: removed). */
export function overlay<T>(base: T, source: T, paths: readonly ConfigPath[]): T {
  const out = structuredClone(base) as Record<string, unknown>;
  for (const path of paths) {
    let value: unknown = source;
    for (const key of path) value = isPlainObject(value) ? value[key] : undefined;
    let target = out;
    for (const key of path.slice(0, -1)) {
      if (!isPlainObject(target[key])) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (value === undefined) delete target[last];
    else target[last] = structuredClone(value);
  }
  return out as T;
}

/** A topic's place in a virtualization layout: V virtual partitions over P physical ones. */
export interface LayoutCounts {
  readonly virtualPartitions: number;
  readonly physicalPartitions: number;
}

/** A topic the brokers hold, as a reload judges it. */
export interface ExistingTopic {
  readonly name: string;
  readonly cluster: string;
  readonly partitions: number;
}

/** A topic whose layout the reloaded rules would change. */
export interface LayoutChange {
  readonly topic: ExistingTopic;
  readonly before: LayoutCounts | undefined;
  readonly after: LayoutCounts | undefined;
}

function sameLayout(a: LayoutCounts | undefined, b: LayoutCounts | undefined): boolean {
  return a?.virtualPartitions === b?.virtualPartitions && a?.physicalPartitions === b?.physicalPartitions;
}

function describeLayout(layout: LayoutCounts): string {
  return `${layout.virtualPartitions} virtual partitions over ${layout.physicalPartitions}`;
}

/** The existing topics whose virtual layout differs between the two rule sets. */
export function layoutChanges(
  topics: readonly ExistingTopic[],
  before: (topic: string) => LayoutCounts | undefined,
  after: (topic: string) => LayoutCounts | undefined,
): LayoutChange[] {
  const changes: LayoutChange[] = [];
  for (const topic of topics) {
    const was = before(topic.name);
    const will = after(topic.name);
    if (!sameLayout(was, will)) changes.push({ topic, before: was, after: will });
  }
  return changes;
}

/**
 * Why a layout change cannot be taken, or undefined when it can: a topic holding records would see them move
 * between virtual partitions (or lose or gain a virtual partition they never carried), and a rule's physical
 * partition count must match the topic's.
 */
export function layoutRefusal(change: LayoutChange, holdsRecords: boolean): string | undefined {
  const { topic, before, after } = change;
  if (holdsRecords) {
    if (before && after) {
      return `topic ${topic.name} holds records: its layout would change from ${describeLayout(before)} to ${describeLayout(after)}, moving records between virtual partitions`;
    }
    if (after) {
      return `topic ${topic.name} holds records and would become virtualized (${describeLayout(after)}): its records carry no virtual partition`;
    }
    return `topic ${topic.name} holds records in ${before ? describeLayout(before) : "virtual partitions"} and would no longer be virtualized: clients would see its physical partitions with the virtual ones mixed`;
  }
  if (after && after.physicalPartitions !== topic.partitions) {
    return `topic ${topic.name} has ${topic.partitions} partitions; the new rule needs ${after.physicalPartitions} physical partitions`;
  }
  return undefined;
}

/** Why the reloaded routing cannot be taken: each existing topic it would send to another cluster. */
export function routingRefusals(
  topics: readonly ExistingTopic[],
  before: (topic: string) => string,
  after: (topic: string) => string,
): string[] {
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (const { name } of topics) {
    if (seen.has(name)) continue;
    seen.add(name);
    const was = before(name);
    const will = after(name);
    if (was !== will) {
      reasons.push(
        `topic ${name} exists and lives on cluster ${was}; the new routing would send it to ${will}`,
      );
    }
  }
  return reasons;
}
