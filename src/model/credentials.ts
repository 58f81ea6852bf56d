// TLS credentials: Secrets -> model TlsCredentials, and which credential a gateway
// server (downstream) or a DestinationRule's TLS origination (upstream) uses on a given
// proxy, by Istio's rules:
//   - Istio's credentialName is looked up in the gateway workload's namespace;
//     a Gateway API certificateRef in the namespace it names (the Gateway's);
//   - the certificate and key come from tls.crt/tls.key (or cert/key);
//   - MUTUAL's client CA is the same Secret's ca.crt (or cacert), else the
//     Secret "<credentialName>-cacert".
//   - a DestinationRule's credentialName is looked up in the namespace of the proxy
//     that uses the cluster (sidecar or gateway); MUTUAL sends tls.crt/tls.key (or
//     cert/key) and both modes verify the server against ca.crt/cacert (or the Secret
//     "<credentialName>-cacert").
// A server whose credential does not resolve is not served (its filter chain is left
// out, the other servers keep serving); a cluster whose credential does not resolve
// fails its connections (UF, never plaintext). Both are reported (WEFT_MISSING_CREDENTIAL).
import type { Finding, Resource } from '../resources/types.js';
import { tlsMaterial, type SecretSpec } from '../resources/kubernetes-secret.js';
import { isOf, sourceOf } from './source.js';
import type { ClientTlsPolicy, GatewayServer, MeshModel, SourceRef, TlsCredential, Workload } from './types.js';
import { labelsMatch } from './labels.js';

export const MISSING_CREDENTIAL = 'WEFT_MISSING_CREDENTIAL';
/** Two credentials a proxy would receive under one SDS name (a certificate and another's CA: caNameTakenBy). */
export const CREDENTIAL_CLASH = 'WEFT_CREDENTIAL_CLASH';

/** The findings about credentials: a server left unserved or a cluster failing closed. */
export function isCredentialFinding(f: Finding): boolean {
  return f.code === MISSING_CREDENTIAL || f.code === CREDENTIAL_CLASH;
}

/** Secrets that hold any TLS material, as credentials. */
export function credentialsFromSecrets(resources: readonly Resource[]): TlsCredential[] {
  const out: TlsCredential[] = [];
  for (const r of resources) {
    if (!isOf(r, 'Secret', ['v1'])) continue;
    const m = tlsMaterial(r.spec as SecretSpec);
    if (!m.certChainPem && !m.caPem) continue;
    out.push({ namespace: r.metadata.namespace, name: r.metadata.name, ...m, source: sourceOf(r) });
  }
  return out;
}

/** Servers that terminate TLS with a user credential (SIMPLE or MUTUAL, not PASSTHROUGH or ISTIO_MUTUAL). */
export function usesCredential(s: GatewayServer): boolean {
  return (s.port.protocol === 'HTTPS' || s.port.protocol === 'TLS') && (s.tls?.mode === 'SIMPLE' || s.tls?.mode === 'MUTUAL');
}

export interface ServerCredential {
  /** Namespace the Secret was looked up in. */
  namespace: string;
  /** The Secret with the certificate and key. */
  cert: TlsCredential;
  /** MUTUAL: the client CA bundle and the Secret it came from. */
  ca?: { pem: string; from: TlsCredential };
}

export type CredentialResolution = { ok: true; credential: ServerCredential } | { ok: false; namespace: string; reason: string };

function lookup(model: MeshModel, namespace: string, name: string): TlsCredential | undefined {
  return model.credentials?.find((c) => c.namespace === namespace && c.name === name);
}

/** The credential a server uses on a gateway workload in `workloadNamespace`, or why there is none. */
export function resolveServerCredential(model: MeshModel, server: GatewayServer, workloadNamespace: string): CredentialResolution {
  const tls = server.tls;
  const namespace = tls?.credentialNamespace ?? workloadNamespace;
  if (!tls?.credentialName) return { ok: false, namespace, reason: `tls.mode ${tls?.mode ?? ''} needs tls.credentialName (a Secret with the server certificate)` };
  const name = tls.credentialName;
  const cert = lookup(model, namespace, name);
  if (!cert) return { ok: false, namespace, reason: `Secret ${namespace}/${name} not found` };
  if (!cert.certChainPem || !cert.keyPem) return { ok: false, namespace, reason: `Secret ${namespace}/${name} has no certificate and key (tls.crt and tls.key, or cert and key)` };
  if (tls.mode !== 'MUTUAL') return { ok: true, credential: { namespace, cert } };
  const ca = caOf(model, namespace, name, cert);
  if (ca.ok) return { ok: true, credential: { namespace, cert, ca: ca.ca } };
  return { ok: false, namespace, reason: `MUTUAL needs a client CA: ${ca.reason}` };
}

/** The CA bundle of credential `name`: its own ca.crt (or cacert), else the Secret "<name>-cacert"'s. */
function caOf(model: MeshModel, namespace: string, name: string, own: TlsCredential | undefined): { ok: true; ca: { pem: string; from: TlsCredential } } | { ok: false; reason: string } {
  if (own?.caPem) return { ok: true, ca: { pem: own.caPem, from: own } };
  const caSecret = lookup(model, namespace, `${name}-cacert`);
  if (caSecret?.caPem) return { ok: true, ca: { pem: caSecret.caPem, from: caSecret } };
  const first = own ? `Secret ${namespace}/${name} has no ca.crt (or cacert)` : `Secret ${namespace}/${name} not found`;
  return { ok: false, reason: `${first} and Secret ${namespace}/${name}-cacert ${caSecret ? 'has none either' : 'not found'}` };
}

/** What a DestinationRule's TLS origination takes from its credential: a client certificate (MUTUAL) and the CA to verify the server with. */
export interface ClientCredential {
  namespace: string;
  cert?: TlsCredential;
  ca?: { pem: string; from: TlsCredential };
}

export type ClientCredentialResolution = { ok: true; credential: ClientCredential } | { ok: false; namespace: string; reason: string };

/** Whether a DestinationRule TLS policy takes material from a Secret (SIMPLE/MUTUAL with credentialName). */
export function usesClientCredential(tls: ClientTlsPolicy | undefined): tls is ClientTlsPolicy & { credentialName: string } {
  return (tls?.mode === 'SIMPLE' || tls?.mode === 'MUTUAL') && tls.credentialName !== undefined && tls.credentialName !== '';
}

/**
 * The credential a DestinationRule's TLS origination uses on a proxy in `proxyNamespace`
 * (Istio: the Secret is in the namespace of the proxy using it). The CA is needed unless
 * insecureSkipVerify; MUTUAL also needs the certificate and key.
 */
export function resolveClientCredential(model: MeshModel, tls: ClientTlsPolicy & { credentialName: string }, proxyNamespace: string): ClientCredentialResolution {
  const namespace = proxyNamespace;
  const name = tls.credentialName;
  const own = lookup(model, namespace, name);
  const credential: ClientCredential = { namespace };
  if (tls.mode === 'MUTUAL') {
    if (!own) return { ok: false, namespace, reason: `Secret ${namespace}/${name} not found` };
    if (!own.certChainPem || !own.keyPem) return { ok: false, namespace, reason: `Secret ${namespace}/${name} has no client certificate and key (tls.crt and tls.key, or cert and key)` };
    credential.cert = own;
  }
  if (tls.insecureSkipVerify) return { ok: true, credential };
  const ca = caOf(model, namespace, name, own);
  if (!ca.ok) return { ok: false, namespace, reason: `no CA to verify the server with: ${ca.reason}` };
  credential.ca = ca.ca;
  return { ok: true, credential };
}

function selectsWorkload(server: GatewayServer, w: Workload): boolean {
  return w.proxyType === 'router' && labelsMatch(server.selector, w.labels);
}

/** A DestinationRule TLS policy that takes material from a Secret, with its DestinationRule. */
interface CredentialPolicy {
  source: SourceRef;
  tls: ClientTlsPolicy & { credentialName: string };
}

function credentialPolicies(model: MeshModel): CredentialPolicy[] {
  const out: CredentialPolicy[] = [];
  for (const svc of model.services) {
    const dp = svc.destinationPolicy;
    for (const c of dp?.clusters ?? []) if (usesClientCredential(c.tls)) out.push({ source: dp!.source, tls: c.tls });
  }
  return out;
}

/** What sends SDS name "<name>" as a certificate: a gateway server, or a DestinationRule's client certificate (MUTUAL). */
export type CertificateUser = { server: GatewayServer } | { policy: CredentialPolicy };

/**
 * Who uses credential `name` (of `credentialNamespace`: Gateway API only) as a certificate on
 * the proxies of `namespace`: a server of one of `routers` (routers there), else any
 * DestinationRule's MUTUAL policy (DestinationRules reach every proxy), when it resolves there.
 */
function certificateUser(model: MeshModel, name: string, credentialNamespace: string | undefined, namespace: string, routers: readonly Workload[]): CertificateUser | undefined {
  const server = model.gatewayServers.find(
    (s) =>
      usesCredential(s) &&
      s.tls?.credentialName === name &&
      s.tls.credentialNamespace === credentialNamespace &&
      routers.some((w) => w.namespace === namespace && labelsMatch(s.selector, w.labels)) &&
      resolveServerCredential(model, s, namespace).ok,
  );
  if (server) return { server };
  if (credentialNamespace !== undefined) return undefined; // a DestinationRule's names have no namespace part
  const policy = credentialPolicies(model).find((p) => p.tls.mode === 'MUTUAL' && p.tls.credentialName === name && resolveClientCredential(model, p.tls, namespace).ok);
  return policy ? { policy } : undefined;
}

/**
 * What takes the SDS name of MUTUAL `server`'s client CA on `router`, if anything. Istio's
 * names put the CA of credential X under "X-cacert", which is also the name of the
 * certificate from a Secret called "X-cacert" (same namespace): one SDS name holds one
 * secret, so the two cannot both be served. The certificate keeps the name (it is the
 * Secret's own; the CA's is derived) and `server` is left out on that router, with a
 * WEFT_CREDENTIAL_CLASH finding: never a chain whose secret holds the wrong kind.
 */
export function caNameTakenBy(model: MeshModel, server: GatewayServer, router: Workload): CertificateUser | undefined {
  const tls = server.tls;
  if (tls?.mode !== 'MUTUAL' || !tls.credentialName || !usesCredential(server)) return undefined;
  return certificateUser(model, `${tls.credentialName}-cacert`, tls.credentialNamespace, router.namespace, [router]);
}

/**
 * The same rule for a DestinationRule's CA (SIMPLE or MUTUAL, verified) on the proxies of
 * `namespace`: when a certificate takes "X-cacert", the cluster's CA never arrives and its
 * connections fail (UF), never unverified.
 */
export function policyCaNameTakenBy(model: MeshModel, tls: ClientTlsPolicy & { credentialName: string }, namespace: string, routers: readonly Workload[]): CertificateUser | undefined {
  if (tls.insecureSkipVerify) return undefined;
  return certificateUser(model, `${tls.credentialName}-cacert`, undefined, namespace, routers);
}

function serverLabel(s: GatewayServer): string {
  return `server ${s.port.name ?? s.port.number} (port ${s.port.number}, hosts ${s.hosts.join(', ')})`;
}

function describeUser(u: CertificateUser, namespace: string): string {
  if ('server' in u) return `the certificate of ${serverLabel(u.server)} of ${u.server.source.kind} ${u.server.source.namespace}/${u.server.source.name} (Secret ${u.server.tls!.credentialNamespace ?? namespace}/${u.server.tls!.credentialName!})`;
  return `the client certificate of DestinationRule ${u.policy.source.namespace}/${u.policy.source.name} (tls MUTUAL credentialName ${u.policy.tls.credentialName}: Secret ${namespace}/${u.policy.tls.credentialName})`;
}

function findingAt(source: SourceRef, path: string | undefined, message: string, code = MISSING_CREDENTIAL): Finding {
  const f: Finding = { code, severity: 'warning', message, resource: { kind: source.kind, namespace: source.namespace, name: source.name } };
  const m = source.origin ? /^(.*):(\d+)$/.exec(source.origin) : null;
  if (m) {
    f.file = m[1]!;
    f.line = Number(m[2]);
  }
  if (path) f.path = path;
  return f;
}

/**
 * One finding per (server, namespace) whose credential does not resolve. Istio servers are
 * checked in the namespace of every gateway workload that runs them (none running: nothing
 * to check yet); Gateway API listeners in the namespace their certificateRef names. A MUTUAL
 * server whose CA name is taken on some of its routers (caNameTakenBy) gets one
 * WEFT_CREDENTIAL_CLASH naming both servers, the Secret and those routers.
 */
export function credentialFindings(model: MeshModel): Finding[] {
  const out: Finding[] = [];
  for (const s of model.gatewayServers) {
    if (!usesCredential(s)) continue;
    const routers = model.workloads.filter((w) => selectsWorkload(s, w));
    const namespaces = s.tls?.credentialNamespace !== undefined ? [s.tls.credentialNamespace] : [...new Set(routers.map((w) => w.namespace))].sort();
    const path = s.path ? `${s.path}.tls${s.path.includes('listeners') ? '.certificateRefs[0]' : '.credentialName'}` : undefined;
    for (const ns of namespaces) {
      const r = resolveServerCredential(model, s, ns);
      if (r.ok) continue;
      const where = s.tls?.credentialNamespace === undefined ? ` by gateways in namespace ${ns}` : '';
      out.push(findingAt(s.source, path, `${serverLabel(s)}: ${r.reason}; this server is not served${where} (the other servers are)`));
    }
    const clashes = routers.flatMap((w) => {
      if (!resolveServerCredential(model, s, w.namespace).ok) return [];
      const other = caNameTakenBy(model, s, w);
      return other ? [{ w, other }] : [];
    });
    if (clashes.length === 0) continue;
    const sds = `"${s.tls!.credentialName!}-cacert"`;
    const by = [...new Set(clashes.map((c) => `${c.w.namespace}/${c.w.name}`))].sort().join(', ');
    // Routers in several namespaces may each meet another certificate: name every one.
    const users = [...new Set(clashes.map((c) => describeUser(c.other, s.tls!.credentialNamespace ?? c.w.namespace)))].join('; and ');
    out.push(
      findingAt(s.source, path, `${serverLabel(s)}: its client CA would be served under the SDS name ${sds}, which is ${users}; this server is not served by gateway workloads ${by} (the certificate is); give that certificate another Secret name`, CREDENTIAL_CLASH),
    );
  }
  return out;
}

/** Namespaces that run proxies (sidecars or routers): where a DestinationRule's credentialName is looked up. */
function proxyNamespaces(model: MeshModel): string[] {
  return [...new Set(model.workloads.filter((w) => w.proxyType === 'sidecar' || w.proxyType === 'router').map((w) => w.namespace))].sort();
}

/**
 * One finding per DestinationRule TLS policy (field path, Secret) whose credential does not
 * resolve in some namespace that runs proxies, naming those namespaces: their proxies'
 * connections on that cluster fail (UF), they never fall back to plaintext. And one per
 * policy whose CA name clashes with a certificate in the namespaces where it does resolve.
 */
export function clientCredentialFindings(model: MeshModel): Finding[] {
  const namespaces = proxyNamespaces(model);
  const seen = new Map<string, { source: SourceRef; tls: ClientTlsPolicy & { credentialName: string }; reasons: string[]; resolvedIn: string[] }>();
  for (const svc of model.services) {
    const dp = svc.destinationPolicy;
    if (!dp) continue;
    for (const c of dp.clusters) {
      const tls = c.tls;
      if (!usesClientCredential(tls)) continue;
      const key = `${dp.source.kind}/${dp.source.namespace}/${dp.source.name}\u0000${tls.path ?? ''}\u0000${tls.credentialName}`;
      if (seen.has(key)) continue;
      const reasons: string[] = [];
      const resolvedIn: string[] = [];
      for (const ns of namespaces) {
        const r = resolveClientCredential(model, tls, ns);
        if (r.ok) resolvedIn.push(ns);
        else reasons.push(r.reason);
      }
      seen.set(key, { source: dp.source, tls, reasons, resolvedIn });
    }
  }
  const out: Finding[] = [];
  const routers = model.workloads.filter((w) => w.proxyType === 'router');
  for (const { source, tls, reasons, resolvedIn } of seen.values()) {
    const path = tls.path ? `${tls.path}.credentialName` : undefined;
    if (reasons.length > 0) {
      out.push(findingAt(source, path, `tls ${tls.mode} credentialName ${tls.credentialName}: ${reasons.join('; ')}; connections from proxies in ${reasons.length === 1 ? 'that namespace' : 'those namespaces'} on this cluster fail (UF), never plaintext`));
    }
    // Missing in one namespace does not hide a clash in another.
    const clashes = [
      ...new Set(
        resolvedIn.flatMap((ns) => {
          const user = policyCaNameTakenBy(model, tls, ns, routers);
          return user ? [describeUser(user, ns)] : [];
        }),
      ),
    ];
    if (clashes.length === 0) continue;
    out.push(
      findingAt(
        source,
        path,
        `tls ${tls.mode} credentialName ${tls.credentialName}: its CA would be served under the SDS name "${tls.credentialName}-cacert", which is ${clashes.join('; and ')}; connections on this cluster from proxies that also send that certificate fail (UF), never unverified; give that certificate another Secret name`,
        CREDENTIAL_CLASH,
      ),
    );
  }
  return out;
}
