import type { ProxyRequests } from "../feature-api/services.ts";
import { ApiKey, hasField } from "../protocol/api.ts";
import { CoordinatorType } from "../protocol/coordinator-type.ts";

/**
 * Asks for a group's coordinator through the chain (so the node id is the one clients see), at `version`: one
 * key in the batched form from the version that has it. Undefined when the answer names no coordinator entry.
 */
export async function findGroupCoordinator(
  requests: ProxyRequests,
  version: number,
  groupId: string,
): Promise<{ readonly nodeId: number; readonly errorCode: number } | undefined> {
  const batched = hasField("FindCoordinatorRequest", "coordinatorKeys", version);
  const response = await requests.request(
    ApiKey.FindCoordinator,
    {
      key: batched ? "" : groupId,
      keyType: CoordinatorType.group,
      coordinatorKeys: batched ? [groupId] : [],
    },
    { apiVersion: version },
  );
  return batched ? response.coordinators[0] : response;
}
