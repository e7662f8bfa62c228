/** Kafka error codes the group parts of virtualization read or answer with. */
export const NONE = 0;
export const UNKNOWN_TOPIC_OR_PARTITION = 3;
export const REQUEST_TIMED_OUT = 7;
export const OFFSET_METADATA_TOO_LARGE = 12;
export const COORDINATOR_LOAD_IN_PROGRESS = 14;
export const COORDINATOR_NOT_AVAILABLE = 15;
export const NOT_COORDINATOR = 16;
export const ILLEGAL_GENERATION = 22;
export const UNKNOWN_MEMBER_ID = 25;
export const REBALANCE_IN_PROGRESS = 27;
export const TOPIC_AUTHORIZATION_FAILED = 29;
export const INVALID_REQUEST = 42;
export const NON_EMPTY_GROUP = 68;
export const GROUP_ID_NOT_FOUND = 69;
export const FENCED_INSTANCE_ID = 82;
export const GROUP_SUBSCRIBED_TO_TOPIC = 86;
export const UNKNOWN_TOPIC_ID = 100;
export const STALE_MEMBER_EPOCH = 113;

/** Errors that say where the group lives, not what it thinks: look the coordinator up again and retry. */
export function isCoordinatorError(code: number): boolean {
  return (
    code === NOT_COORDINATOR || code === COORDINATOR_NOT_AVAILABLE || code === COORDINATOR_LOAD_IN_PROGRESS
  );
}

/** Errors about one partition only; any other error on a commit speaks for the whole group (fencing, auth, ...). */
export function isPartitionOnlyError(code: number): boolean {
  return (
    code === UNKNOWN_TOPIC_OR_PARTITION ||
    code === UNKNOWN_TOPIC_ID ||
    code === OFFSET_METADATA_TOO_LARGE ||
    code === TOPIC_AUTHORIZATION_FAILED
  );
}
