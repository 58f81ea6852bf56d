// The one seam to src/resources: load a file or folder of manifests.

import { loadPath } from '../../resources/index.js';
import type { Finding, Resource } from '../../resources/types.js';

export interface LoadResult {
  resources: Resource[];
  findings: Finding[];
}

export async function loadResources(path: string, recursive = false): Promise<LoadResult> {
  return loadPath(path, { recursive });
}
