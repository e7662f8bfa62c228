import type { Logger } from "../log/logger.ts";
import { ApiKey, ErrorCode, firstVersion } from "../protocol/api.ts";
import { CoordinatorType } from "../protocol/coordinator-type.ts";
import { KafkaProtocolError } from "../protocol/errors.ts";
import type { AdminClient } from "./admin-client.ts";

const BATCHED_LOOKUPS = { min: firstVersion("FindCoordinatorRequest", "coordinatorKeys") };
const MAX_ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;
const CACHE_LIMIT = 50_000;

/** Errors that say where the group lives, not what it thinks: look the coordinator up again and retry. */
export function isCoordinatorError(code: number): boolean {
  return (
    code === ErrorCode.NOT_COORDINATOR ||
    code === ErrorCode.COORDINATOR_NOT_AVAILABLE ||
    code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
  );
}

/** What one coordinator answered for one group: an error code to judge retries by, and the group's result. */
export interface GroupOutcome<R> {
  errorCode: number;
  result: R;
}

/** Sends the request for `groups` (all coordinated by `nodeId`) and returns one outcome per group. */
export type CoordinatorCall<R> = (nodeId: number, groups: string[]) => Promise<Map<string, GroupOutcome<R>>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Several upstream clusters: each group is coordinated on its home cluster. */
export interface GroupHomes {
  homeOf(group: string): string;
  anyNodeOf(cluster: string): number | undefined;
}

/**
 * Group coordinators (virtual node ids) as the cluster reports them (FindCoordinator v4, batched), cached per group and
 * forgotten when a broker says it no longer coordinates the group. Requests for many groups go out as one
 * request per coordinator and are retried, a bounded number of times, on coordinator errors.
 */
export class GroupCoordinators {
  private readonly cache = new Map<string, number>();
  private readonly admin: AdminClient;
  private readonly virtualNodeOf: (upstreamNodeId: number, cluster: string | undefined) => number;
  private readonly homes: GroupHomes | undefined;
  private readonly log: Logger;

  /**
   * `virtualNodeOf` maps the node ids FindCoordinator answers with (from `cluster`, the default one when
   * undefined) to the topology's virtual node ids. Without `homes`, every group lives on the default cluster.
   */
  constructor(
    admin: AdminClient,
    virtualNodeOf: (upstreamNodeId: number, cluster: string | undefined) => number,
    log: Logger,
    homes?: GroupHomes,
  ) {
    this.admin = admin;
    this.virtualNodeOf = virtualNodeOf;
    this.log = log;
    this.homes = homes;
  }

  forget(group: string): void {
    this.cache.delete(group);
  }

  /** Remembers a coordinator learned elsewhere (the broker that just answered for the group). */
  remember(group: string, nodeId: number): void {
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(group, nodeId);
  }

  /**
   * Runs `call` for every group on its coordinator. A group whose coordinator cannot be found or keeps
   * answering with a coordinator error ends with `failed(errorCode)`.
   */
  async forEachCoordinator<R>(
    groups: readonly string[],
    call: CoordinatorCall<R>,
    failed: (errorCode: number) => R,
  ): Promise<Map<string, R>> {
    const results = new Map<string, R>();
    let pending = [...new Set(groups)];
    let lastError = new Map<string, number>();
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && pending.length > 0; attempt++) {
      if (attempt > 0) {
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      const located = await this.locate(pending);
      const retry: string[] = [];
      const errors = new Map<string, number>();
      const byNode = new Map<number, string[]>();
      for (const group of pending) {
        const found = located.get(group)!;
        if (found.errorCode !== ErrorCode.NONE) {
          errors.set(group, found.errorCode);
          if (isCoordinatorError(found.errorCode)) retry.push(group);
          else results.set(group, failed(found.errorCode));
          continue;
        }
        let list = byNode.get(found.nodeId);
        if (!list) byNode.set(found.nodeId, (list = []));
        list.push(group);
      }
      await Promise.all(
        [...byNode].map(async ([nodeId, nodeGroups]) => {
          let outcomes: Map<string, GroupOutcome<R>>;
          try {
            outcomes = await call(nodeId, nodeGroups);
          } catch (error) {
            if (error instanceof KafkaProtocolError) throw error;
            this.log.debug({ nodeId, err: (error as Error).message }, "group coordinator request failed");
            for (const group of nodeGroups) {
              this.forget(group);
              errors.set(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
              retry.push(group);
            }
            return;
          }
          for (const group of nodeGroups) {
            const outcome = outcomes.get(group);
            if (!outcome) {
              errors.set(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
              retry.push(group);
            } else if (isCoordinatorError(outcome.errorCode)) {
              if (outcome.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) this.forget(group);
              errors.set(group, outcome.errorCode);
              retry.push(group);
            } else {
              results.set(group, outcome.result);
            }
          }
        }),
      );
      pending = retry;
      lastError = errors;
    }
    for (const group of pending)
      results.set(group, failed(lastError.get(group) ?? ErrorCode.COORDINATOR_NOT_AVAILABLE));
    return results;
  }

  private async locate(groups: string[]): Promise<Map<string, { nodeId: number; errorCode: number }>> {
    const located = new Map<string, { nodeId: number; errorCode: number }>();
    const unknown: string[] = [];
    for (const group of groups) {
      const nodeId = this.cache.get(group);
      if (nodeId === undefined) unknown.push(group);
      else located.set(group, { nodeId, errorCode: ErrorCode.NONE });
    }
    if (unknown.length > 0) {
      const byHome = new Map<string | undefined, string[]>();
      for (const group of unknown) {
        const home = this.homes?.homeOf(group);
        const list = byHome.get(home) ?? [];
        list.push(group);
        byHome.set(home, list);
      }
      await Promise.all([...byHome].map(([home, homeGroups]) => this.find(home, homeGroups, located)));
      for (const group of unknown) {
        if (!located.has(group))
          located.set(group, { nodeId: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
      }
    }
    return located;
  }

  /** Asks `cluster` (the default one when undefined) where `groups` are coordinated. */
  private async find(
    cluster: string | undefined,
    groups: string[],
    located: Map<string, { nodeId: number; errorCode: number }>,
  ): Promise<void> {
    let coordinators: { key: string; nodeId: number; errorCode: number }[] = [];
    try {
      const nodeId = cluster === undefined ? undefined : this.homes?.anyNodeOf(cluster);
      if (cluster !== undefined && nodeId === undefined)
        throw new Error(`no broker of cluster ${cluster} is known`);
      const response = await this.admin.request(
        ApiKey.FindCoordinator,
        { key: "", keyType: CoordinatorType.group, coordinatorKeys: groups },
        { versions: BATCHED_LOOKUPS, nodeId },
      );
      coordinators = response.coordinators;
    } catch (error) {
      this.log.debug({ cluster, err: (error as Error).message }, "FindCoordinator failed");
    }
    for (const entry of coordinators) {
      const nodeId = this.virtualNodeOf(entry.nodeId, cluster);
      if (entry.errorCode === ErrorCode.NONE) this.remember(entry.key, nodeId);
      located.set(entry.key, { nodeId, errorCode: entry.errorCode });
    }
  }
}
