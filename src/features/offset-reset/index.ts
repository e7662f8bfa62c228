import type { FeatureServices } from "../../composition.ts";
import type { Feature } from "../../feature-api/feature.ts";

export function createOffsetReset(_services: FeatureServices): Feature | undefined {
  return undefined;
}
