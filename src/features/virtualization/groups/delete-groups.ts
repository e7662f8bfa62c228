import type { ApiHandler, RequestContext } from "../../../feature-api/feature.ts";
import { ApiKey, ErrorCode } from "../../../protocol/api.ts";
import type { DeleteGroupsRequest } from "../../../protocol/generated/messages/delete-groups-request.ts";
import type {
  DeletableGroupResult,
  DeleteGroupsResponse,
} from "../../../protocol/generated/messages/delete-groups-response.ts";
import type { GroupOutcome } from "../../../topology/group-coordinators.ts";
import type { VirtualizationContext } from "../context.ts";
import { companionGroupOf, isCompanionGroup } from "./companion-groups.ts";
import type { MaxGroupsCatalog } from "./max-groups-catalog.ts";

/** DeleteGroups also deletes the companion groups of every group it deleted (or that had only companions). */
export class DeleteCompanionGroups implements ApiHandler<typeof ApiKey.DeleteGroups> {
  private readonly context: VirtualizationContext;
  private readonly catalog: MaxGroupsCatalog;

  constructor(context: VirtualizationContext, catalog: MaxGroupsCatalog) {
    this.context = context;
    this.catalog = catalog;
  }

  async onRequest(
    request: DeleteGroupsRequest,
    exchange: RequestContext<typeof ApiKey.DeleteGroups>,
  ): Promise<DeleteGroupsResponse> {
    const response = await exchange.next(request);
    const maxGroups = await this.catalog.upperBound();
    if (maxGroups <= 1) return response;
    const owners = new Map<string, DeletableGroupResult>();
    for (const result of response.results) {
      if (isCompanionGroup(result.groupId)) continue;
      if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.GROUP_ID_NOT_FOUND) continue;
      for (let g = 1; g < maxGroups; g++) owners.set(companionGroupOf(result.groupId, g), result);
    }
    if (owners.size === 0) return response;
    const outcomes = await this.context.coordinators.forEachCoordinator<number>(
      [...owners.keys()],
      async (nodeId, groups) => {
        const version = await this.context.admin.versionFor(nodeId, ApiKey.DeleteGroups);
        const answer = await exchange.send(ApiKey.DeleteGroups, version, { groupsNames: groups }, { nodeId });
        const map = new Map<string, GroupOutcome<number>>();
        for (const r of answer.results) map.set(r.groupId, { errorCode: r.errorCode, result: r.errorCode });
        return map;
      },
      (errorCode) => errorCode,
    );
    const deletedSome = new Set<DeletableGroupResult>();
    for (const [companion, errorCode] of outcomes) {
      const owner = owners.get(companion)!;
      if (errorCode === ErrorCode.NONE) deletedSome.add(owner);
      else if (errorCode !== ErrorCode.GROUP_ID_NOT_FOUND && owner.errorCode === ErrorCode.NONE) {
        owner.errorCode = errorCode;
        owner.errorMessage = `deleting companion group ${companion} failed`;
      }
    }
    for (const owner of deletedSome) {
      if (owner.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) {
        owner.errorCode = ErrorCode.NONE;
        owner.errorMessage = null;
      }
    }
    return response;
  }
}
