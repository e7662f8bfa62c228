/**
 * Kafka's ACL vocabulary as the authorization feature uses it: resource types, operations, which operations a
 * resource type has, which an ALLOW rule implies, and the bit of each in an `authorizedOperations` field.
 */
import { ErrorCode } from "../../protocol/api.ts";

export const RESOURCE_TYPES = ["topic", "group", "transactional_id", "cluster"] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/** Kafka's AclOperation, with the code it has on the wire (the bit it sets in `authorizedOperations`). */
const OPERATION_CODES = {
  all: 2,
  read: 3,
  write: 4,
  create: 5,
  delete: 6,
  alter: 7,
  describe: 8,
  cluster_action: 9,
  describe_configs: 10,
  alter_configs: 11,
  idempotent_write: 12,
  two_phase_commit: 15,
} as const;

export type AclOperation = keyof typeof OPERATION_CODES;
export const ACL_OPERATIONS = Object.keys(OPERATION_CODES) as AclOperation[];

/** The operations a rule may name for each resource type (Kafka's AclEntry.supportedOperations), besides `all`. */
export const OPERATIONS_ON: Readonly<Record<ResourceType, readonly AclOperation[]>> = {
  topic: ["read", "write", "create", "describe", "delete", "alter", "describe_configs", "alter_configs"],
  group: ["read", "describe", "delete", "describe_configs", "alter_configs"],
  cluster: [
    "create",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
    "alter",
    "describe",
  ],
  transactional_id: ["describe", "write", "two_phase_commit"],
};

/** The name Kafka gives the one cluster resource. */
export const CLUSTER_NAME = "kafka-cluster";

/** The error a client gets when it may not use a resource of that type. */
export const AUTHORIZATION_FAILED: Readonly<Record<ResourceType, number>> = {
  topic: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  group: ErrorCode.GROUP_AUTHORIZATION_FAILED,
  transactional_id: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  cluster: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
};

/** One bit per operation, for masks of what a rule covers. */
export function operationBit(operation: AclOperation): number {
  return 1 << OPERATION_CODES[operation];
}

const EVERY_OPERATION = ACL_OPERATIONS.reduce((mask, operation) => mask | operationBit(operation), 0);

/** The operations an ALLOW rule naming `operation` grants: describe comes with read, write, delete and alter. */
export function grantedBy(operation: AclOperation): number {
  switch (operation) {
    case "all":
      return EVERY_OPERATION;
    case "read":
    case "write":
    case "delete":
    case "alter":
      return operationBit(operation) | operationBit("describe");
    case "alter_configs":
      return operationBit(operation) | operationBit("describe_configs");
    default:
      return operationBit(operation);
  }
}

/** The operations `operation` stands for: itself, or every one for `all`. What a DENY rule naming it refuses. */
export function namedBy(operation: AclOperation): number {
  return operation === "all" ? EVERY_OPERATION : operationBit(operation);
}

/** The `authorizedOperations` bit field (Kafka's Utils.to32BitField) of the operations that pass `allows`. */
export function authorizedOperationsField(
  resource: ResourceType,
  allows: (operation: AclOperation) => boolean,
): number {
  let field = 0;
  for (const operation of OPERATIONS_ON[resource]) if (allows(operation)) field |= operationBit(operation);
  return field;
}
