// The one seam to src/resources: load a file or folder of manifests.

import { loadPath, type ParseResult } from '../../resources/index.js';

export async function loadResources(path: string, recursive = false): Promise<ParseResult> {
  return loadPath(path, { recursive });
}
