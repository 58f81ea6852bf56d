// The listener manager: on apply, diff by name; bind new listeners, close removed ones
// (their open connections carry on), and swap the config of listeners whose address did
// not change in place (no rebind, no dropped connections). Internal listeners are not
// bound: openInternal connects to them in memory.
import net from 'node:net';
import type { ProxyIdentityInfo } from '../types.js';
import { ConfigRejectedError } from '../types.js';
import type { CompiledListener } from './listener-config.js';
import { listenerStatNames, type ListenerStatNames } from './stats.js';
import { handleConnection, handleInternalConnection, type ConnectionEnv } from './filter-chain.js';
import { duplexPair, type InternalConnectionMeta } from './internal-listener.js';
import type { Duplex } from 'node:stream';
import { BindError } from './errors.js';

interface Running {
  name: string;
  /** host:port as configured after 0.0.0.0 substitution (the diff key). */
  key: string;
  server: net.Server;
  config: CompiledListener;
  names: ListenerStatNames;
  bound: string;
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class ListenerManager {
  private running = new Map<string, Running>();
  /** Internal listeners (no address): reached through openInternal. */
  private internal = new Map<string, { config: CompiledListener; names: ListenerStatNames }>();
  private readonly sockets = new Set<net.Socket>();
  private accepting = true;

  constructor(
    private readonly info: Pick<ProxyIdentityInfo, 'listenAddress' | 'ip'>,
    private readonly env: ConnectionEnv,
  ) {}

  private bindHost(host: string): string {
    return host === '0.0.0.0' || host === '::' ? this.info.listenAddress || this.info.ip : host;
  }

  private listen(name: string, host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true });
      const onError = (err: Error): void => {
        server.close();
        reject(new BindError(name, formatAddress(host, port), err));
      };
      server.once('error', onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.removeListener('error', onError);
        server.on('error', () => {});
        resolve(server);
      });
    });
  }

  private start(r: Running): void {
    r.server.on('connection', (socket: net.Socket) => {
      if (!this.accepting) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      handleConnection(this.env, r.config, r.names, socket);
    });
  }

  /** Switch to this set of listeners; throws ConfigRejectedError (and changes nothing) when one cannot bind. */
  async apply(listeners: Map<string, CompiledListener>): Promise<void> {
    const byKey = new Map<string, Running>();
    for (const r of this.running.values()) byKey.set(r.key, r);
    const next = new Map<string, Running>();
    const fresh: Running[] = [];
    const reused = new Set<Running>();
    const internal = new Map<string, { config: CompiledListener; names: ListenerStatNames }>();
    try {
      for (const [name, cfg] of listeners) {
        if (cfg.internal) {
          const prev = this.internal.get(name);
          internal.set(name, { config: cfg, names: prev?.names ?? listenerStatNames(name) });
          continue;
        }
        const host = this.bindHost(cfg.host);
        const key = `${host}|${cfg.port}`;
        const same = this.running.get(name);
        const old = same && same.key === key ? same : byKey.get(key);
        if (old && !reused.has(old)) {
          reused.add(old);
          next.set(name, { ...old, name, config: cfg, names: old.name === name ? old.names : listenerStatNames(name) });
          continue;
        }
        const server = await this.listen(name, host, cfg.port);
        const addr = server.address() as net.AddressInfo;
        const r: Running = { name, key, server, config: cfg, names: listenerStatNames(name), bound: formatAddress(addr.address, addr.port) };
        fresh.push(r);
        next.set(name, r);
      }
    } catch (err) {
      for (const r of fresh) r.server.close();
      throw new ConfigRejectedError((err as Error).message);
    }
    // Commit: reused servers see the new config through their Running record.
    for (const r of next.values()) {
      const prev = [...reused].find((o) => o.server === r.server);
      if (prev) {
        prev.name = r.name;
        prev.config = r.config;
        prev.names = r.names;
        next.set(r.name, prev);
      }
    }
    for (const r of fresh) this.start(r);
    for (const r of this.running.values()) if (!reused.has(r)) r.server.close();
    this.running = next;
    this.internal = internal;
  }

  /**
   * A connection to an internal listener: the client end of an in-memory pair whose
   * server end runs through the listener's filter chains. undefined when there is no such
   * listener or the proxy is draining.
   */
  openInternal(name: string, meta: InternalConnectionMeta): Duplex | undefined {
    const l = this.internal.get(name);
    if (!l || !this.accepting) return undefined;
    const [client, server] = duplexPair();
    handleInternalConnection(this.env, l.config, l.names, server, { originalDestination: meta.originalDestination });
    return client;
  }

  boundListeners(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.running.values()) out[r.name] = r.bound;
    return out;
  }

  /** Stop accepting on every listener (open connections carry on). */
  stopAccepting(): void {
    this.accepting = false;
    // net.Server#close stops listening at once; its callback would wait for every open connection.
    for (const r of this.running.values()) r.server.close();
    this.running.clear();
  }

  openConnections(): number {
    return this.sockets.size;
  }

  destroyConnections(): void {
    for (const s of this.sockets) s.destroy();
  }
}
