import { type ApiKey, type EntityType, requestEntities } from "../../protocol/api.ts";
import { type Authorize, refuseWhole } from "./answers.ts";
import { type AclOperation, CLUSTER_NAME, type ResourceType } from "./operations.ts";
import type { RequiredOperations } from "./required-operations.ts";

/** The entity type (of the generated entity table) of the request fields that name each kind of resource. */
export const ENTITY_TYPE_OF: Readonly<Record<Exclude<ResourceType, "cluster">, EntityType>> = {
  topic: "topicName",
  group: "groupId",
  transactional_id: "transactionalId",
};

/**
 * The authorization of an API whose request is allowed or refused as a whole: every resource it names (the
 * fields of the generated entity table), kind after kind in Kafka's order, must allow the operation; the
 * first refused kind's error answers the request. Cluster operations are checked on the cluster. An API that
 * needs nothing is still refused to anonymous clients that may do nothing.
 */
export function everyNamedEntity<K extends ApiKey>(apiKey: K, required: RequiredOperations): Authorize<K> {
  const checks = Object.entries(required) as [ResourceType, AclOperation][];
  return async (request, context, access) => {
    if (checks.length === 0 && !access.admitted) {
      access.denied("cluster", CLUSTER_NAME, "all");
      return refuseWhole(context, request, "cluster");
    }
    for (const [resource, operation] of checks) {
      if (resource === "cluster") {
        if (!access.checkOnCluster(operation)) return refuseWhole(context, request, "cluster");
        continue;
      }
      for (const name of requestEntities(apiKey, context.apiVersion, request, ENTITY_TYPE_OF[resource])) {
        if (!access.check(resource, String(name), operation)) return refuseWhole(context, request, resource);
      }
    }
    return context.next(request);
  };
}

/** The authorization of an API with no entry in the table: refused (fail closed); super users never get here. */
export function refuseUnmapped<K extends ApiKey>(): Authorize<K> {
  return async (request, context, access) => {
    access.denied("cluster", CLUSTER_NAME, "all");
    return refuseWhole(context, request, "cluster");
  };
}
