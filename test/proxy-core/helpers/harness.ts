// A whole proxy (runProxy) against an in-process ADS server and CA, on loopback: the
// pod identity is reviews-1 in shop, the admin server on a free port.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { runProxy, type ProxyOptions, type RunningProxy, type RunProxyDeps } from '../../../src/proxy/core/main.js';
import { silentLogger } from '../../../src/proxy/core/log.js';
import { TestAdsServer } from './ads-server.js';
import { TestCaServer } from './ca-server.js';
import { makeRoot, makeServerCert, type TestRoot } from '../../helpers/pki.js';

export const POD_TOKEN = 'pod-token';

/** A CA root and the files a proxy reads (root PEM, bootstrap token), in a temp dir. */
export interface ProxyFiles {
  dir: string;
  root: TestRoot;
  rootFile: string;
  tokenFile: string;
  remove(): Promise<void>;
}

export async function proxyFiles(prefix: string): Promise<ProxyFiles> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const root = await makeRoot();
  const rootFile = path.join(dir, 'root.pem');
  const tokenFile = path.join(dir, 'token');
  await fs.writeFile(rootFile, root.pem);
  await fs.writeFile(tokenFile, POD_TOKEN);
  return { dir, root, rootFile, tokenFile, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

export interface ProxyHarness {
  ads: TestAdsServer;
  ca: TestCaServer;
  proxy: RunningProxy;
  stop(): Promise<void>;
}

/** runProxy with a fresh ADS server and CA; `deps` picks the data plane (default: the real one). */
export async function startProxy(files: ProxyFiles, deps: Omit<RunProxyDeps, 'logger'> = {}, extra: Partial<ProxyOptions> = {}): Promise<ProxyHarness> {
  const ca = new TestCaServer({ root: files.root, token: POD_TOKEN });
  await ca.start();
  const ads = new TestAdsServer();
  await ads.start(0, await makeServerCert(files.root, '127.0.0.1'));
  const proxy = await runProxy(
    {
      pod: 'reviews-1',
      namespace: 'shop',
      serviceAccount: 'reviews',
      ip: '127.0.0.1',
      labels: { app: 'reviews' },
      xdsAddress: ads.address,
      caAddress: ca.address,
      caRootFile: files.rootFile,
      tokenFile: files.tokenFile,
      adminPort: 0,
      drainSeconds: 1,
      xdsBackoffMaxMs: 200,
      ...extra,
    },
    { logger: silentLogger, ...deps },
  );
  return {
    ads,
    ca,
    proxy,
    async stop() {
      await proxy.shutdown('test end');
      ads.kill();
      ca.stop();
    },
  };
}

/** One admin request: status and body text. */
export async function adminGet(proxy: RunningProxy, p: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; text: string }> {
  const res = await request(`http://${proxy.adminAddress}${p}`, { method });
  return { status: res.statusCode, text: await res.body.text() };
}
