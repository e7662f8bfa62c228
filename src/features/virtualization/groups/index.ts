import type { ApiHandlers } from "../../../feature-api/feature.ts";
import { ApiKey } from "../../../protocol/api.ts";
import type { VirtualizationContext } from "../context.ts";
import { VirtualConsumerGroupDescribe } from "./consumer-group-describe.ts";
import { VirtualConsumerHeartbeat } from "./consumer-group-heartbeat.ts";
import { DeleteCompanionGroups } from "./delete-groups.ts";
import { HideCompanionGroups } from "./list-groups.ts";
import { MaxGroupsCatalog } from "./max-groups-catalog.ts";
import { VirtualOffsetCommit } from "./offset-commit.ts";
import { VirtualOffsetDelete } from "./offset-delete.ts";
import { VirtualOffsetFetch } from "./offset-fetch.ts";
import { RefuseTransactionalCommits } from "./txn-offset-commit.ts";

/** Consumer-group offsets and KIP-848 assignments for virtualized topics. */
export function groupHandlers(context: VirtualizationContext): ApiHandlers {
  const catalog = new MaxGroupsCatalog(context.rules, context.topics);
  return {
    [ApiKey.OffsetCommit]: new VirtualOffsetCommit(context),
    [ApiKey.OffsetFetch]: new VirtualOffsetFetch(context, catalog),
    [ApiKey.ListGroups]: new HideCompanionGroups(),
    [ApiKey.DeleteGroups]: new DeleteCompanionGroups(context, catalog),
    [ApiKey.OffsetDelete]: new VirtualOffsetDelete(context),
    [ApiKey.TxnOffsetCommit]: new RefuseTransactionalCommits(context),
    [ApiKey.ConsumerGroupHeartbeat]: new VirtualConsumerHeartbeat(context),
    [ApiKey.ConsumerGroupDescribe]: new VirtualConsumerGroupDescribe(context),
  };
}
