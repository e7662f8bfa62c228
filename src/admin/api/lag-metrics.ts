import { Gauge, type Registry } from "prom-client";
import type { Logger } from "../../log/logger.ts";
import type { GroupsInspector, GroupView } from "./groups.ts";

/** A scrape within this long of the last one reuses its answer, so scrapes cannot load the brokers. */
const LAG_REUSE_MS = 5_000;
/** Default cap on lag series (metrics.max_lag_series). */
export const DEFAULT_MAX_LAG_SERIES = 2000;

/**
 * `kafka_proxy_consumer_lag{group,topic,partition}` and `kafka_proxy_consumer_committed_offset`, computed when
 * Prometheus scrapes (at most once per LAG_REUSE_MS), at most `maxSeries` series each: groups in name order,
 * the ones past the cap are left out and counted in `kafka_proxy_consumer_lag_series_omitted`.
 */
export function registerLagMetrics(
  registry: Registry,
  groups: GroupsInspector,
  maxSeries: () => number,
  log: Logger,
): void {
  let last: { at: number; groups: Promise<GroupView[]> } | undefined;
  const snapshot = (): Promise<GroupView[]> => {
    const now = Date.now();
    if (!last || now - last.at >= LAG_REUSE_MS) {
      last = {
        at: now,
        groups: groups.describeAll().catch((error: Error) => {
          log.warn({ err: error.message }, "consumer lag not computed for this scrape");
          return [];
        }),
      };
    }
    return last.groups;
  };
  const omitted = new Gauge({
    name: "kafka_proxy_consumer_lag_series_omitted",
    help: "Consumer lag series left out of the last scrape by metrics.max_lag_series",
    registers: [registry],
  });
  new Gauge({
    name: "kafka_proxy_consumer_committed_offset",
    help: "Committed offset per consumer group and partition, in the clients' view (virtual partitions)",
    labelNames: ["group", "topic", "partition"],
    registers: [registry],
    async collect() {
      this.reset();
      let series = 0;
      for (const group of await snapshot()) {
        for (const partition of group.partitions) {
          if (series++ >= maxSeries()) return;
          this.labels(group.group, partition.topic, String(partition.partition)).set(
            partition.committedOffset,
          );
        }
      }
    },
  });
  new Gauge({
    name: "kafka_proxy_consumer_lag",
    help: "Records past the committed offset per consumer group and partition; exact for virtual partitions",
    labelNames: ["group", "topic", "partition"],
    registers: [registry],
    async collect() {
      this.reset();
      let series = 0;
      let left = 0;
      for (const group of await snapshot()) {
        for (const partition of group.partitions) {
          if (partition.lag === null) continue;
          if (series >= maxSeries()) {
            left++;
            continue;
          }
          series++;
          this.labels(group.group, partition.topic, String(partition.partition)).set(partition.lag);
        }
      }
      omitted.set(left);
    },
  });
}
