import { ZERO_UUID } from "../../../protocol/api.ts";
import type { VirtualizationContext } from "../context.ts";

/** A topic named by an id the directory cannot resolve: it may be virtualized, so it is never passed on raw. */
export function isUnresolvedId(context: VirtualizationContext, topicId: string, byId: boolean): boolean {
  return byId && topicId !== ZERO_UUID && context.topics.nameOf(topicId) === undefined;
}

/**
 * Looks up the partition counts of the virtualized topics among `names` that the directory does not know yet
 * (undefined names are skipped); a failed lookup leaves them unknown, and they are refused. Undefined when
 * every count is known: the caller then goes on in the same turn, so the request it passes on is written
 * together with the others of the client's chunk instead of in a write of its own.
 */
export function lookUpVirtualCounts(
  context: VirtualizationContext,
  names: Iterable<string | undefined>,
): Promise<void> | undefined {
  let missing: string[] | undefined;
  for (const name of names) {
    if (name !== undefined && context.topics.get(name) === undefined && context.rules.layoutOf(name))
      (missing ??= []).push(name);
  }
  return (
    missing &&
    context.topics.refreshNames(missing).then(
      () => undefined,
      () => undefined,
    )
  );
}
