/**
 * FindCoordinator's key types (Kafka's `CoordinatorType`): not part of the message definitions. Before
 * FindCoordinator v1 every key is a group.
 */
export const CoordinatorType = { group: 0, transaction: 1, share: 2 } as const;
