import type { FeatureServices } from "../../composition.ts";
import type { Feature } from "../../feature-api/feature.ts";

export function createTraffic(_services: FeatureServices): Feature | undefined {
  return undefined;
}
