import type { Authorizer } from "./authorizer.ts";
import { type AclOperation, CLUSTER_NAME, type ResourceType } from "./operations.ts";
import type { TopicNames } from "./topic-ids.ts";

/** What one request was refused: an operation on resources of one type. */
export interface Denial {
  readonly resource: ResourceType;
  readonly operation: AclOperation;
  readonly names: string[];
}

/**
 * One request's view of the authorizer: the principal's decisions, and a record of what was refused so that the
 * request gets one log line. `check` is for what the request asks for; `may` for what listings leave out
 * silently (as Kafka does not log them).
 */
export class Access {
  readonly principal: string | undefined;
  readonly topics: TopicNames;
  readonly denials: Denial[] = [];
  private readonly authorizer: Authorizer;

  constructor(principal: string | undefined, authorizer: Authorizer, topics: TopicNames) {
    this.principal = principal;
    this.authorizer = authorizer;
    this.topics = topics;
  }

  /** Whether the principal may do anything at all (anonymous clients may not, unless allowed). */
  get admitted(): boolean {
    return this.authorizer.admits(this.principal);
  }

  may(resource: ResourceType, name: string, operation: AclOperation): boolean {
    return this.authorizer.allowed(this.principal, resource, name, operation);
  }

  check(resource: ResourceType, name: string, operation: AclOperation): boolean {
    if (this.may(resource, name, operation)) return true;
    this.denied(resource, name, operation);
    return false;
  }

  mayOnCluster(operation: AclOperation): boolean {
    return this.may("cluster", CLUSTER_NAME, operation);
  }

  checkOnCluster(operation: AclOperation): boolean {
    return this.check("cluster", CLUSTER_NAME, operation);
  }

  /** Whether the principal may do `operation` to some resource of the type (see Authorizer.allowedOnSome). */
  mayOnSome(resource: ResourceType, operation: AclOperation): boolean {
    return this.authorizer.allowedOnSome(this.principal, resource, operation);
  }

  /** The prefix the principal is confined to, if any. */
  get confinement(): string | undefined {
    return this.authorizer.confinementOf(this.principal);
  }

  authorizedOperations(resource: ResourceType, name: string): number {
    return this.authorizer.authorizedOperations(this.principal, resource, name);
  }

  /** Records a refusal decided elsewhere (e.g. a topic id no one knows). */
  denied(resource: ResourceType, name: string, operation: AclOperation): void {
    let denial = this.denials.find((d) => d.resource === resource && d.operation === operation);
    if (denial === undefined) this.denials.push((denial = { resource, operation, names: [] }));
    if (!denial.names.includes(name)) denial.names.push(name);
  }
}
