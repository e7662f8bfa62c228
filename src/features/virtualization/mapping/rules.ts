import type { PartitionRule } from "../../../config/load.ts";

export interface VirtualLayout {
  readonly topic: string;
  readonly virtualPartitions: number;
  readonly physicalPartitions: number;
  /** Virtual partitions per physical partition: V / P. */
  readonly groups: number;
}

/** v lives on p = v mod P, in group g = floor(v / P). */
export function physicalOf(layout: VirtualLayout, virtualPartition: number): number {
  return virtualPartition % layout.physicalPartitions;
}

export function groupOf(layout: VirtualLayout, virtualPartition: number): number {
  return Math.floor(virtualPartition / layout.physicalPartitions);
}

export function virtualOf(layout: VirtualLayout, physicalPartition: number, group: number): number {
  return group * layout.physicalPartitions + physicalPartition;
}

/** Every virtual partition on the given physical partitions: p -> p, p + P, ..., p + (k-1)P, ascending. */
export function expandToVirtual(physical: readonly number[], layout: VirtualLayout): number[] {
  const out: number[] = [];
  for (let group = 0; group < layout.groups; group++) {
    for (const p of physical) {
      if (p >= 0 && p < layout.physicalPartitions) out.push(virtualOf(layout, p, group));
    }
  }
  return out.sort((a, b) => a - b);
}

/** The physical partitions behind the given virtual partitions, each once, ascending. */
export function collapseToPhysical(virtual: readonly number[], layout: VirtualLayout): number[] {
  const seen = new Set<number>();
  for (const v of virtual) {
    if (v >= 0 && v < layout.virtualPartitions) seen.add(physicalOf(layout, v));
  }
  return [...seen].sort((a, b) => a - b);
}

const INTERNAL_TOPIC = /^__/;

/** Decides which topics are virtualized, first matching rule wins; the answer is cached per topic name. */
export class VirtualizationRules {
  private rules: readonly PartitionRule[];
  private never: readonly RegExp[];
  private readonly cache = new Map<string, VirtualLayout | null>();

  constructor(rules: readonly PartitionRule[], never: readonly RegExp[]) {
    this.rules = rules;
    this.never = never;
  }

  /** Takes reloaded rules (a reload has checked that no topic holding records changes layout). */
  replace(rules: readonly PartitionRule[], never: readonly RegExp[]): void {
    this.rules = rules;
    this.never = never;
    this.cache.clear();
  }

  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  /** The largest V / P of any rule (at least 1): no virtualized topic has more virtual groups. */
  get largestGroups(): number {
    let largest = 1;
    for (const rule of this.rules)
      largest = Math.max(largest, rule.virtualPartitions / rule.physicalPartitions);
    return largest;
  }

  layoutOf(topic: string): VirtualLayout | undefined {
    let layout = this.cache.get(topic);
    if (layout === undefined) {
      layout = this.resolve(topic);
      if (this.cache.size > 100_000) this.cache.clear();
      this.cache.set(topic, layout);
    }
    return layout ?? undefined;
  }

  private resolve(topic: string): VirtualLayout | null {
    if (INTERNAL_TOPIC.test(topic)) return null;
    if (this.never.some((pattern) => pattern.test(topic))) return null;
    const rule = this.rules.find((r) => r.pattern.test(topic));
    if (!rule || rule.virtualPartitions === rule.physicalPartitions) return null;
    return {
      topic,
      virtualPartitions: rule.virtualPartitions,
      physicalPartitions: rule.physicalPartitions,
      groups: rule.virtualPartitions / rule.physicalPartitions,
    };
  }
}
