/**
 * Online consumer-offset reset: `POST /api/groups/{group}/reset` moves a group's committed offsets while its
 * consumers run, and makes the consumers continue from there (see docs/offset-reset.md). It sits above
 * virtualization, so it speaks of virtual partitions as the clients do.
 */
import { AdminError } from "../../admin/routes.ts";
import type { ApiHandler, Feature } from "../../feature-api/feature.ts";
import type { FeatureServices } from "../../feature-api/services.ts";
import { ApiKey } from "../../protocol/api.ts";
import { groupApiHandlers } from "./group-apis.ts";
import { HostedGroups } from "./hosted-members.ts";
import { OffsetResets, RESET_RECORD_GROUP_PREFIX } from "./offset-reset.ts";
import { parseResetRequest, ResetRequestError } from "./reset-request.ts";

export const OFFSET_RESET_FEATURE = "offset-reset";

export function createOffsetReset(services: FeatureServices): Feature {
  const groups = new HostedGroups();
  const resets = new OffsetResets(
    services.requests,
    (nodeId, apiKey, bounds) => services.topology.admin.versionFor(nodeId, apiKey, bounds),
    groups,
    services.log,
  );
  services.admin.post("/api/groups/{group}/reset", async (request) => {
    const group = request.params.group!;
    try {
      const reset = parseResetRequest(request.body);
      const answer = await resets.reset(group, reset);
      if (!reset.dryRun && !answer.repeated) {
        services.log.info(
          {
            group,
            topic: reset.topic,
            id: answer.id,
            by: request.actor.remote,
            partitions: answer.partitions,
          },
          "consumer offsets reset",
        );
      }
      return { json: answer };
    } catch (error) {
      if (error instanceof ResetRequestError) throw new AdminError(400, error.message);
      throw error;
    }
  });
  return {
    name: OFFSET_RESET_FEATURE,
    handlers: { ...groupApiHandlers(groups), [ApiKey.ListGroups]: hideResetRecords },
  };
}

/** ListGroups shows only real groups: the groups recording resets are the proxy's bookkeeping. */
const hideResetRecords: ApiHandler<typeof ApiKey.ListGroups> = {
  onResponse(response) {
    const kept = response.groups.filter((group) => !group.groupId.startsWith(RESET_RECORD_GROUP_PREFIX));
    if (kept.length === response.groups.length) return false;
    response.groups = kept;
    return true;
  },
};
