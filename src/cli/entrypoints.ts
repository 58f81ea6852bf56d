// The control-plane and proxy processes behind `weft control` and `weft proxy`:
// flags override the WEFT_* environment (loadControlOptionsFromEnv / loadProxyOptionsFromEnv).

// Each process loads only its own side (imported on use): a proxy never loads the control
// plane's modules, and the reverse.
import type { ControlOptions, ControlPlane, ControlPorts } from '../control/main.js';
import type { ProxyOptions } from '../proxy/core/main.js';

export interface ControlFlags {
  address?: string;
  stateDir?: string;
  trustDomain?: string;
  ports: Partial<ControlPorts>;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Starts the control plane; SIGTERM/SIGINT close it and exit. */
export async function startControl(flags: ControlFlags): Promise<ControlPlane> {
  const { loadControlOptionsFromEnv, runControl } = await import('../control/main.js');
  const base = loadControlOptionsFromEnv();
  const opts: ControlOptions = {
    ...base,
    ...defined({ address: flags.address, stateDir: flags.stateDir, trustDomain: flags.trustDomain }),
    ports: { ...base.ports, ...defined(flags.ports) },
  };
  const cp = await runControl(opts);
  let closing = false;
  const close = (): void => {
    if (closing) return;
    closing = true;
    cp.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`error: closing the control plane: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
  return cp;
}

/** WEFT_* variables that loadProxyOptionsFromEnv reads, so flags can stand in for the required ones. */
function proxyEnvDefaults(loadProxyOptionsFromEnv: (env: NodeJS.ProcessEnv) => ProxyOptions): Partial<ProxyOptions> {
  const env = { ...process.env };
  env.WEFT_POD_NAME ||= 'unset';
  env.WEFT_POD_IP ||= '127.0.0.1';
  const o = loadProxyOptionsFromEnv(env);
  const out: Partial<ProxyOptions> = defined(o);
  if (!process.env.WEFT_POD_NAME) delete out.pod;
  if (!process.env.WEFT_POD_IP) delete out.ip;
  return out;
}

/** Starts a proxy; its own handlers drain it on SIGTERM. */
export async function startProxy(flags: Partial<ProxyOptions>): Promise<void> {
  const { installSignalHandlers, loadProxyOptionsFromEnv, runProxy } = await import('../proxy/core/main.js');
  const opts = { ...proxyEnvDefaults(loadProxyOptionsFromEnv), ...defined(flags) } as ProxyOptions;
  const proxy = await runProxy(opts);
  installSignalHandlers(proxy);
}
