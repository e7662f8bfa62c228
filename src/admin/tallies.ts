import { Counter, type Metric, type Registry } from "prom-client";

/**
 * Counters and histograms for the hot path (per request, per batch): a label set is looked up once, then each
 * count is an addition to a plain number. prom-client's own `inc` and `observe` hash the label values on every
 * call; here the totals reach the registry only when metrics are collected.
 */

/** One label set's count since the last collection. */
export class Tally {
  pending = 0;

  add(amount: number): void {
    this.pending += amount;
  }
}

/** A metric's label sets, each made once (values in the order of the label names) with what it counts in. */
class LabelSets<T> {
  readonly byValues = new Map<string, { readonly labels: Record<string, string>; readonly tally: T }>();
  private readonly labelNames: readonly string[];
  private readonly make: (labels: Record<string, string>) => T;

  constructor(labelNames: readonly string[], make: (labels: Record<string, string>) => T) {
    this.labelNames = labelNames;
    this.make = make;
  }

  tally(values: readonly string[]): T {
    const key = values.join("\u0000");
    let set = this.byValues.get(key);
    if (!set) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? "";
      });
      set = { labels, tally: this.make(labels) };
      this.byValues.set(key, set);
    }
    return set.tally;
  }
}

/** A prom-client Counter counted through `Tally`s; label sets are kept once made, so callers bound them. */
export class TalliedCounter {
  private readonly sets: LabelSets<Tally>;
  readonly counter: Counter;

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[] = []) {
    const sets = new LabelSets(labelNames, (labels) => {
      this.counter.inc(labels, 0);
      return new Tally();
    });
    this.sets = sets;
    this.counter = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const { labels, tally } of sets.byValues.values()) {
          if (tally.pending === 0) continue;
          this.inc(labels, tally.pending);
          tally.pending = 0;
        }
      },
    });
  }

  /** The tally of one label set (values in the order of the label names), published as 0 until counted. */
  tally(...values: string[]): Tally {
    return this.sets.tally(values);
  }
}

/** One label set of a `TalliedHistogram`: bucket counts (not cumulative), sum and count. */
export class HistogramTally {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram in Prometheus' form (`_bucket` with `le`, `_sum`, `_count`), registered in a prom-client registry
 * beside its own metrics and written out by it; observations go to a `HistogramTally` per label set.
 */
export class TalliedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly sets: LabelSets<HistogramTally>;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
    this.sets = new LabelSets(labelNames, () => new HistogramTally(bounds));
    registry.registerMetric(this as unknown as Metric);
  }

  /** The tally of one label set, published from its first observation on. */
  tally(...values: string[]): HistogramTally {
    return this.sets.tally(values);
  }

  /** What prom-client's registry reads to write the metric out. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: HistogramValue[];
  }> {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, tally } of this.sets.byValues.values()) {
      if (tally.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += tally.counts[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf", ...labels }, value: tally.count, metricName: bucket });
      values.push({ labels, value: tally.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: tally.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const { tally } of this.sets.byValues.values()) {
      tally.counts.fill(0);
      tally.sum = 0;
      tally.count = 0;
    }
  }
}
