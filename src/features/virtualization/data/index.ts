import type { ApiHandlers } from "../../../feature-api/feature.ts";
import { ApiKey } from "../../../protocol/api.ts";
import type { VirtualizationContext } from "../context.ts";
import { VirtualFetch } from "./fetch.ts";
import { VirtualListOffsets } from "./list-offsets.ts";
import { VirtualOffsetForLeaderEpoch } from "./offset-for-leader-epoch.ts";
import { VirtualProduce } from "./produce.ts";

/** Records and offsets of virtual partitions: Produce, Fetch, ListOffsets, OffsetForLeaderEpoch. */
export function dataHandlers(context: VirtualizationContext): ApiHandlers {
  return {
    [ApiKey.Produce]: new VirtualProduce(context),
    [ApiKey.Fetch]: new VirtualFetch(context),
    [ApiKey.ListOffsets]: new VirtualListOffsets(context),
    [ApiKey.OffsetForLeaderEpoch]: new VirtualOffsetForLeaderEpoch(context),
  };
}
