import type { Feature } from "../../proxy/feature.ts";
import { VirtualAdmin } from "./admin.ts";
import type { VirtualizationContext } from "./context.ts";
import { VirtualFetch } from "./fetch.ts";
import { virtualGroupFeatures } from "./groups.ts";
import { VirtualMetadata } from "./metadata.ts";
import { VirtualOffsets } from "./offsets.ts";
import { VirtualProduce } from "./produce.ts";

export type { VirtualizationContext } from "./context.ts";

/** The features that together present virtual partitions to clients. */
export function virtualizationFeatures(context: VirtualizationContext): Feature[] {
  return [
    new VirtualMetadata(context.rules, context.topics),
    new VirtualProduce(context),
    new VirtualFetch(context, { readAheadBytes: context.readAheadBytes }),
    new VirtualOffsets(context),
    new VirtualAdmin(context),
    ...virtualGroupFeatures(context),
  ];
}
