// The running mesh and an API client for it, for commands that talk to the control plane.

import { Command } from 'commander';
import { ControlApiClient } from '../platform/local/control-api.js';
import { readAdminToken, requireMesh, type MeshFile } from '../platform/local/mesh-file.js';
import { homeOf } from './output.js';

export interface MeshContext {
  home: string;
  mesh: MeshFile;
  api: ControlApiClient;
}

export function meshContext(cmd: Command): MeshContext {
  const home = homeOf(cmd);
  const mesh = requireMesh(home);
  return { home, mesh, api: new ControlApiClient(mesh.apiUrl, readAdminToken(mesh)) };
}
