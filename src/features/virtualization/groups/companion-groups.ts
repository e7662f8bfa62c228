/**
 * Offsets of virtual partitions v >= P cannot be committed under the real group (the broker only knows the
 * P physical partitions), so virtual group g >= 1 of a topic commits under a companion group named
 * `<group><separator><g>`, as a simple commit for physical partition p = v mod P.
 */
export const COMPANION_SEPARATOR = ".__kpp-vg.";

export function companionGroupOf(group: string, virtualGroup: number): string {
  return `${group}${COMPANION_SEPARATOR}${virtualGroup}`;
}

export function isCompanionGroup(group: string): boolean {
  return group.includes(COMPANION_SEPARATOR);
}

/** The real group and virtual group a companion name stands for, or undefined for any other name. */
export function parseCompanionGroup(group: string): { group: string; virtualGroup: number } | undefined {
  const at = group.lastIndexOf(COMPANION_SEPARATOR);
  if (at < 0) return undefined;
  const suffix = group.slice(at + COMPANION_SEPARATOR.length);
  if (!/^[1-9][0-9]{0,8}$/.test(suffix)) return undefined;
  return { group: group.slice(0, at), virtualGroup: Number(suffix) };
}
