import type { Feature } from "../../feature-api/feature.ts";
import type { FeatureServices } from "../../feature-api/services.ts";

export function createOffsetReset(_services: FeatureServices): Feature | undefined {
  return undefined;
}
