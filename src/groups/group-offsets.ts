import type { ProxyRequests } from "../feature-api/services.ts";
import { ApiKey, fieldVersions, hasField, ZERO_UUID } from "../protocol/api.ts";
import type { VersionBounds } from "../topology/api-versions.ts";

/** OffsetFetch versions that still name topics (later ones name them by id). */
export const OFFSET_FETCH_BY_NAME: VersionBounds = {
  max: fieldVersions("OffsetFetchRequest", "groups.topics.name").last ?? undefined,
};

export interface FetchedGroupOffsets {
  readonly errorCode: number;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly committedOffset: bigint;
      readonly metadata: string | null;
      readonly errorCode: number;
    }[];
  }[];
}

/**
 * One group's committed offsets through the chain, from its coordinator at `version` (within
 * OFFSET_FETCH_BY_NAME): those of `topics`, or of every topic when null; in the batched form from the version
 * that has it. Undefined when a batched answer names no group.
 */
export async function fetchGroupOffsets(
  requests: ProxyRequests,
  coordinator: number,
  version: number,
  groupId: string,
  topics: readonly { readonly name: string; readonly partitionIndexes: number[] }[] | null,
): Promise<FetchedGroupOffsets | undefined> {
  const grouped = hasField("OffsetFetchRequest", "groups", version);
  const response = await requests.request(
    ApiKey.OffsetFetch,
    grouped
      ? {
          groupId: "",
          topics: [],
          groups: [
            {
              groupId,
              memberId: null,
              memberEpoch: -1,
              topics: topics && topics.map((topic) => ({ ...topic, topicId: ZERO_UUID })),
            },
          ],
          requireStable: false,
        }
      : { groupId, topics: topics && [...topics], groups: [], requireStable: false },
    { nodeId: coordinator, apiVersion: version },
  );
  return grouped ? response.groups[0] : response;
}
