import type { Feature } from "../../feature-api/feature.ts";
import type { FeatureServices } from "../../feature-api/services.ts";

export function createFlowControl(_services: FeatureServices): Feature | undefined {
  return undefined;
}
