/**
 * The group members whose group requests pass through this proxy instance, and the resets under way for their
 * groups: which commits are held back (the fence) and which members still have to drop their partitions.
 */

import type { AssignedTopic } from "./consumer-steering.ts";

export type GroupProtocol = "classic" | "consumer";

export interface HostedMember {
  readonly memberId: string;
  protocol: GroupProtocol;
  /** The classic generation, or the KIP-848 member epoch, last seen for this member. */
  generation: number;
  clientId: string | null;
  remote: string;
  /** The assignor the group chose at the member's last join (classic groups), null before one. */
  assignor: string | null;
  /** The partitions last assigned to a KIP-848 member, as its client sees them; null before an assignment. */
  assignment: AssignedTopic[] | null;
}

/**
 * Where a member stands in a reset: "untold"; "told" (its heartbeat was answered with the error that makes it
 * rejoin); "revoking" (a cooperative member given its assignment without the reset partitions: it revokes
 * them, committing its old positions, and re-syncs once more); "withholding" (a KIP-848 member given its
 * assignment without the reset partitions, until it acknowledges their revocation); "restoring" (a KIP-848
 * member given them back, until it acknowledges owning them again).
 */
export type SteeringState = "untold" | "told" | "revoking" | "withholding" | "restoring";

/** The partitions of one topic a reset moves; undefined partitions for all of them. */
export interface FencedPartitions {
  readonly topic: string;
  /** The topic's id, for commits naming topics by id. */
  readonly topicId: string;
  readonly partitions: ReadonlySet<number>;
}

/**
 * One reset's hold on a group. From its creation, commits of the fenced partitions by hosted members are
 * answered without reaching the broker. Once the reset's offsets are committed (`steer`), every member that was
 * in the group then is told to drop its partitions; a member is released once it has re-synced after that, so
 * its positions come from the committed offsets.
 */
export class Fence {
  readonly partitions: FencedPartitions;
  /** Members that must drop their partitions and re-sync, and where each stands. */
  private readonly pending = new Map<string, SteeringState>();
  private steering = false;
  private allReleased: () => void = () => {};
  readonly released: Promise<void>;

  constructor(partitions: FencedPartitions) {
    this.partitions = partitions;
    this.released = new Promise((resolve) => {
      this.allReleased = resolve;
    });
  }

  /** True when a commit of `partition` by `memberId` would write a position read before the reset. */
  holds(memberId: string, topic: string, topicId: string, partition: number): boolean {
    if (this.steering && !this.pending.has(memberId)) return false;
    const named = topic === "" ? topicId === this.partitions.topicId : topic === this.partitions.topic;
    return named && this.partitions.partitions.has(partition);
  }

  /** The reset's offsets are committed: these members must now drop their partitions. */
  steer(memberIds: Iterable<string>): void {
    this.steering = true;
    for (const id of memberIds) this.pending.set(id, "untold");
    this.checkReleased();
  }

  /** True when `memberId`'s next heartbeat must answer the error that makes it drop its partitions. */
  mustTell(memberId: string): boolean {
    return this.steering && this.pending.get(memberId) === "untold";
  }

  told(memberId: string): void {
    if (this.pending.get(memberId) === "untold") this.pending.set(memberId, "told");
  }

  /** True once `memberId` was told to drop its partitions and has not re-synced since. */
  wasTold(memberId: string): boolean {
    return this.pending.get(memberId) === "told";
  }

  /** `memberId` was given an assignment without the reset partitions: it re-syncs once more. */
  revoking(memberId: string): void {
    if (this.pending.get(memberId) === "told") this.pending.set(memberId, "revoking");
  }

  /** Where `memberId` stands; undefined when it has nothing (more) to do for this reset. */
  stateOf(memberId: string): SteeringState | undefined {
    return this.steering ? this.pending.get(memberId) : undefined;
  }

  /** KIP-848 `memberId` was given its assignment without the reset partitions. */
  withholding(memberId: string): void {
    if (this.pending.get(memberId) === "untold") this.pending.set(memberId, "withholding");
  }

  /** KIP-848 `memberId` revoked the reset partitions and was given them back. */
  restoring(memberId: string): void {
    if (this.pending.get(memberId) === "withholding") this.pending.set(memberId, "restoring");
  }

  /** `memberId` re-synced (a SyncGroup, or a KIP-848 heartbeat at epoch 0, answered without error). */
  resynced(memberId: string): void {
    if (this.pending.get(memberId) === "untold") return;
    this.pending.delete(memberId);
    this.checkReleased();
  }

  /** `memberId` left the group: nothing to wait for. */
  left(memberId: string): void {
    if (this.pending.delete(memberId)) this.checkReleased();
  }

  /** The members still to re-sync. */
  get waitingFor(): string[] {
    return [...this.pending.keys()];
  }

  private checkReleased(): void {
    if (this.steering && this.pending.size === 0) this.allReleased();
  }
}

/** A group as this instance sees it: its hosted members, its fences, its commits on their way to the broker. */
export class HostedGroup {
  readonly members = new Map<string, HostedMember>();
  readonly fences = new Set<Fence>();
  readonly commitsInFlight = new Set<Promise<unknown>>();

  member(memberId: string, protocol: GroupProtocol, clientId: string | null, remote: string): HostedMember {
    let member = this.members.get(memberId);
    if (!member) {
      member = { memberId, protocol, generation: -1, clientId, remote, assignor: null, assignment: null };
      this.members.set(memberId, member);
    }
    member.protocol = protocol;
    member.clientId = clientId;
    member.remote = remote;
    return member;
  }

  left(memberId: string): void {
    this.members.delete(memberId);
    for (const fence of this.fences) fence.left(memberId);
  }

  mustTell(memberId: string): Fence | undefined {
    for (const fence of this.fences) if (fence.mustTell(memberId)) return fence;
    return undefined;
  }

  told(memberId: string): void {
    for (const fence of this.fences) fence.told(memberId);
  }

  resynced(memberId: string): void {
    for (const fence of this.fences) fence.resynced(memberId);
  }

  /** The partitions `memberId` was told to drop and has not re-synced since. */
  toDrop(memberId: string): FencedPartitions[] {
    return [...this.fences].filter((fence) => fence.wasTold(memberId)).map((fence) => fence.partitions);
  }

  /** `memberId` was given its assignment without the partitions to drop. */
  revoking(memberId: string): void {
    for (const fence of this.fences) fence.revoking(memberId);
  }

  holds(memberId: string, topic: string, topicId: string, partition: number): boolean {
    for (const fence of this.fences) if (fence.holds(memberId, topic, topicId, partition)) return true;
    return false;
  }

  /** Tracks a commit forwarded to the broker until it is answered. */
  track<T>(commit: Promise<T>): Promise<T> {
    this.commitsInFlight.add(commit);
    const done = () => this.commitsInFlight.delete(commit);
    commit.then(done, done);
    return commit;
  }
}

export class HostedGroups {
  private readonly groups = new Map<string, HostedGroup>();

  group(groupId: string): HostedGroup {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new HostedGroup();
      this.groups.set(groupId, group);
    }
    return group;
  }

  find(groupId: string): HostedGroup | undefined {
    return this.groups.get(groupId);
  }
}
