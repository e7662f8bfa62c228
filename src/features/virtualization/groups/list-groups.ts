import type { ApiHandler } from "../../../feature-api/feature.ts";
import type { ApiKey } from "../../../protocol/api.ts";
import type { ListGroupsResponse } from "../../../protocol/generated/messages/list-groups-response.ts";
import { isCompanionGroup } from "./companion-groups.ts";

/** ListGroups shows only real groups: companion groups are the proxy's bookkeeping. */
export class HideCompanionGroups implements ApiHandler<typeof ApiKey.ListGroups> {
  onResponse(response: ListGroupsResponse): boolean {
    const kept = response.groups.filter((group) => !isCompanionGroup(group.groupId));
    if (kept.length === response.groups.length) return false;
    response.groups = kept;
    return true;
  }
}
