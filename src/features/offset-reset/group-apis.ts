/**
 * The group APIs of the clients connected here: who is a member of which group (with its generation or member
 * epoch), commits held back while a reset is under way, and the heartbeat answers that make members drop their
 * partitions and fetch their committed offsets again.
 */
import type { ApiHandlers, RequestContext } from "../../feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../protocol/api.ts";
import { isCooperative, rejoinError, withoutPartitions } from "./classic-steering.ts";
import {
  type AssignedTopic,
  copyAssignment,
  countFenced,
  ownsFenced,
  ownsNoneFenced,
  withoutFenced,
} from "./consumer-steering.ts";
import type { HostedGroup, HostedGroups, HostedMember } from "./hosted-members.ts";

const STEERED_HEARTBEAT_MESSAGE = "the group's committed offsets were reset: rejoin and fetch them";

function isClient(context: RequestContext): boolean {
  return context.connection.internal !== true;
}

export function groupApiHandlers(groups: HostedGroups): ApiHandlers {
  return {
    [ApiKey.JoinGroup]: {
      async onRequest(request, context) {
        if (!isClient(context)) return context.next(request);
        const { connection } = context;
        const group = groups.group(request.groupId);
        // A member is in the group from its join on (the coordinator lists it while the join waits for the
        // rebalance): known by the id it asks with, or the one the coordinator gives it.
        if (request.memberId)
          group.member(request.memberId, "classic", connection.clientId, connection.remote);
        const response = await context.next(request);
        if (response.memberId) {
          const member = group.member(response.memberId, "classic", connection.clientId, connection.remote);
          if (response.errorCode === ErrorCode.NONE) {
            member.generation = response.generationId;
            member.assignor = response.protocolName;
          }
        }
        return response;
      },
    },
    [ApiKey.SyncGroup]: {
      async onRequest(request, context) {
        const response = await context.next(request);
        if (isClient(context) && response.errorCode === ErrorCode.NONE) {
          const { connection } = context;
          const group = groups.group(request.groupId);
          const member = group.member(request.memberId, "classic", connection.clientId, connection.remote);
          member.generation = request.generationId;
          const drop = group.toDrop(request.memberId);
          const assignment =
            drop.length > 0 && isCooperative(member.assignor)
              ? withoutPartitions(response.assignment, drop)
              : undefined;
          if (assignment) {
            // A cooperative member keeps its partitions: without the reset ones it revokes them (committing
            // its old positions, still held back), rejoins, and gets them back as new partitions whose
            // committed offsets it fetches.
            response.assignment = assignment;
            group.revoking(request.memberId);
          } else group.resynced(request.memberId);
        }
        return response;
      },
    },
    [ApiKey.Heartbeat]: {
      async onRequest(request, context) {
        if (!isClient(context)) return context.next(request);
        const { connection } = context;
        const group = groups.group(request.groupId);
        const member = group.member(request.memberId, "classic", connection.clientId, connection.remote);
        const response = await context.next(request);
        if (response.errorCode === ErrorCode.NONE) member.generation = request.generationId;
        if (group.mustTell(request.memberId)) {
          response.errorCode = rejoinError(member.assignor);
          group.told(request.memberId);
          context.log.info(
            { group: request.groupId, memberId: request.memberId },
            "offset reset: member told to rejoin and fetch the reset offsets",
          );
        }
        return response;
      },
    },
    [ApiKey.LeaveGroup]: {
      async onRequest(request, context) {
        const response = await context.next(request);
        if (isClient(context)) {
          const group = groups.find(request.groupId);
          if (group) {
            if (request.memberId) group.left(request.memberId);
            for (const member of request.members) group.left(member.memberId);
          }
        }
        return response;
      },
    },
    [ApiKey.ConsumerGroupHeartbeat]: {
      async onRequest(request, context) {
        if (!isClient(context)) return context.next(request);
        // Read before the request goes on: the layers below may rewrite it into their view.
        const owned = request.topicPartitions;
        const response = await context.next(request);
        const memberId = response.memberId ?? request.memberId;
        if (!memberId) return response;
        const { connection } = context;
        const group = groups.group(request.groupId);
        if (request.memberEpoch < 0) {
          group.left(memberId);
          return response;
        }
        const member = group.member(memberId, "consumer", connection.clientId, connection.remote);
        if (response.errorCode !== ErrorCode.NONE) return response;
        member.generation = response.memberEpoch;
        if (response.assignment) member.assignment = copyAssignment(response.assignment.topicPartitions);
        if (request.memberEpoch === 0) group.resynced(memberId);
        else if (group.fences.size > 0)
          steerConsumer(request.groupId, group, member, owned, response, context);
        return response;
      },
    },
    [ApiKey.OffsetCommit]: {
      async onRequest(request, context) {
        if (!isClient(context)) return context.next(request);
        const group = groups.find(request.groupId);
        if (!group) return context.next(request);
        if (group.fences.size === 0) return group.track(context.next(request));
        return commitAroundFences(request, context, group);
      },
    },
  };
}

/**
 * Moves a KIP-848 member along its resets (see consumer-steering.ts): a member keeping other partitions is
 * given its assignment without the reset ones, then, once it has revoked them, with them again; a member owning
 * only reset partitions (or whose assignment is not known) is fenced.
 */
function steerConsumer(
  groupId: string,
  group: HostedGroup,
  member: HostedMember,
  owned: readonly AssignedTopic[] | null,
  response: ResponseOf<typeof ApiKey.ConsumerGroupHeartbeat>,
  context: RequestContext<typeof ApiKey.ConsumerGroupHeartbeat>,
): void {
  const { memberId, assignment } = member;
  let fence = false;
  let withheld = false;
  let restored = false;
  for (const reset of group.fences) {
    const state = reset.stateOf(memberId);
    if (state === "untold") {
      const counts = assignment ? countFenced(assignment, reset.partitions) : undefined;
      if (counts?.fenced === 0) {
        reset.told(memberId);
        reset.resynced(memberId);
      } else if (counts && counts.other > 0) {
        reset.withholding(memberId);
        withheld = true;
      } else fence = true;
    } else if (state === "withholding" && owned && ownsNoneFenced(owned, reset.partitions)) {
      reset.restoring(memberId);
      restored = true;
    } else if (
      state === "restoring" &&
      owned &&
      assignment &&
      ownsFenced(owned, assignment, reset.partitions)
    ) {
      reset.resynced(memberId);
    }
  }
  const log = { group: groupId, memberId };
  if (fence) {
    // FENCED_MEMBER_EPOCH: the member drops its partitions as lost and rejoins at epoch 0.
    response.errorCode = ErrorCode.FENCED_MEMBER_EPOCH;
    response.errorMessage = STEERED_HEARTBEAT_MESSAGE;
    response.assignment = null;
    group.told(memberId);
    context.log.info(log, "offset reset: member told to rejoin and fetch the reset offsets");
    return;
  }
  if (!assignment || !(withheld || restored || response.assignment)) return;
  let answered: AssignedTopic[] = assignment;
  for (const reset of group.fences)
    if (reset.stateOf(memberId) === "withholding") answered = withoutFenced(answered, reset.partitions);
  if (withheld || restored || answered !== assignment)
    response.assignment = { topicPartitions: copyAssignment(answered) };
  if (withheld)
    context.log.info(log, "offset reset: member given its assignment without the reset partitions");
  if (restored)
    context.log.info(log, "offset reset: member given the reset partitions back, to fetch their offsets");
}

type Commit = RequestOf<typeof ApiKey.OffsetCommit>;
type CommitResponse = ResponseOf<typeof ApiKey.OffsetCommit>;

/**
 * Answers the held partitions of a commit as committed, without passing them on; the rest goes to the broker.
 * The member's client sees a successful commit, and the reset's offsets stay.
 */
async function commitAroundFences(
  request: Commit,
  context: RequestContext<typeof ApiKey.OffsetCommit>,
  group: HostedGroup,
): Promise<CommitResponse> {
  const held: CommitResponse["topics"] = [];
  const passed: Commit["topics"] = [];
  for (const topic of request.topics) {
    const heldPartitions = topic.partitions.filter((p) =>
      group.holds(request.memberId, topic.name, topic.topicId, p.partitionIndex),
    );
    if (heldPartitions.length > 0) {
      held.push({
        name: topic.name,
        topicId: topic.topicId,
        partitions: heldPartitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NONE,
        })),
      });
    }
    if (heldPartitions.length < topic.partitions.length) {
      passed.push({ ...topic, partitions: topic.partitions.filter((p) => !heldPartitions.includes(p)) });
    }
  }
  if (held.length > 0) {
    context.log.debug(
      { group: request.groupId, memberId: request.memberId },
      "offset reset: a commit of positions read before the reset was held back",
    );
  }
  if (passed.length === 0) return { throttleTimeMs: 0, topics: held };
  const response = await group.track(context.next({ ...request, topics: passed }));
  response.topics.push(...held);
  return response;
}
