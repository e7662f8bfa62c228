/**
 * How a KIP-848 member (ConsumerGroupHeartbeat) is made to fetch the committed offsets of the reset partitions
 * again without losing its place on the others.
 *
 * FENCED_MEMBER_EPOCH makes a member give all its partitions away as lost, without committing: its positions
 * on partitions the reset does not move, read since its last commit, would be read again. So a member that
 * keeps other partitions is answered, at the same epoch, with its assignment without the reset partitions: it
 * commits its positions (those of the reset partitions held back by the fence), revokes the reset partitions,
 * and acknowledges. The answer to that acknowledgement gives them back; the member takes them as new
 * partitions and fetches their committed offsets. A member owning only reset partitions has nothing to lose,
 * and is fenced.
 */
import type { FencedPartitions } from "./hosted-members.ts";

export interface AssignedTopic {
  readonly topicId: string;
  readonly partitions: readonly number[];
}

function fencedIn(topic: AssignedTopic, fence: FencedPartitions): (partition: number) => boolean {
  if (topic.topicId !== fence.topicId) return () => false;
  return (partition) => fence.partitions.has(partition);
}

/** How many of `assignment`'s partitions the fence moves, and how many it does not. */
export function countFenced(
  assignment: readonly AssignedTopic[],
  fence: FencedPartitions,
): { fenced: number; other: number } {
  let fenced = 0;
  let other = 0;
  for (const topic of assignment) {
    const isFenced = fencedIn(topic, fence);
    for (const partition of topic.partitions) {
      if (isFenced(partition)) fenced++;
      else other++;
    }
  }
  return { fenced, other };
}

/** `assignment` without the fenced partitions. */
export function withoutFenced(
  assignment: readonly AssignedTopic[],
  fence: FencedPartitions,
): { topicId: string; partitions: number[] }[] {
  return assignment.map((topic) => {
    const isFenced = fencedIn(topic, fence);
    return { topicId: topic.topicId, partitions: topic.partitions.filter((p) => !isFenced(p)) };
  });
}

/** True when `owned` (a heartbeat's owned partitions) holds every fenced partition of `assignment`. */
export function ownsFenced(
  owned: readonly AssignedTopic[],
  assignment: readonly AssignedTopic[],
  fence: FencedPartitions,
): boolean {
  for (const topic of assignment) {
    const isFenced = fencedIn(topic, fence);
    const reported = owned.find((t) => t.topicId === topic.topicId)?.partitions ?? [];
    for (const partition of topic.partitions)
      if (isFenced(partition) && !reported.includes(partition)) return false;
  }
  return true;
}

/** True when `owned` (a heartbeat's owned partitions) holds none of the fenced partitions. */
export function ownsNoneFenced(owned: readonly AssignedTopic[], fence: FencedPartitions): boolean {
  return countFenced(owned, fence).fenced === 0;
}

export function copyAssignment(
  assignment: readonly AssignedTopic[],
): { topicId: string; partitions: number[] }[] {
  return assignment.map((topic) => ({ topicId: topic.topicId, partitions: [...topic.partitions] }));
}
