import type { ApiHandlers, Feature } from "../../feature-api/feature.ts";
import { adminHandlers } from "./admin/index.ts";
import type { VirtualizationContext } from "./context.ts";
import { dataHandlers } from "./data/index.ts";
import { guardCompanionGroups } from "./groups/companion-group-guard.ts";
import { groupHandlers } from "./groups/index.ts";

export type { VirtualizationContext } from "./context.ts";
export { VirtualizationRules } from "./mapping/rules.ts";

/** Partition virtualization: clients see V partitions of a topic that Kafka stores on P = V / k. */
export function createVirtualization(context: VirtualizationContext): Feature {
  // Every group API is guarded, whichever part of the feature handles it: clients cannot name companion groups.
  const handlers: ApiHandlers = guardCompanionGroups({
    ...dataHandlers(context),
    ...groupHandlers(context),
    ...adminHandlers(context),
  });
  return { name: "virtualization", handlers };
}
