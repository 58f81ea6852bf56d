// Kind names as users type them (kubectl habits): "vs", "virtualservices", "VirtualService".

const KINDS: Record<string, string[]> = {
  Service: ['svc', 'services'],
  Deployment: ['deploy', 'deployments'],
  Namespace: ['ns', 'namespaces'],
  ServiceAccount: ['sa', 'serviceaccounts'],
  VirtualService: ['vs', 'virtualservices'],
  DestinationRule: ['dr', 'destinationrules'],
  Gateway: ['gw', 'gateways'],
  ServiceEntry: ['se', 'serviceentries'],
  Sidecar: ['sidecars'],
  PeerAuthentication: ['pa', 'peerauthentications'],
  AuthorizationPolicy: ['ap', 'authorizationpolicies'],
  RequestAuthentication: ['ra', 'requestauthentications'],
  HTTPRoute: ['httproutes'],
  GRPCRoute: ['grpcroutes'],
  TCPRoute: ['tcproutes'],
  GatewayClass: ['gatewayclasses'],
  ReferenceGrant: ['referencegrants'],
  ServiceProfile: ['sp', 'serviceprofiles'],
  Server: ['servers'],
  ServerAuthorization: ['serverauthorizations'],
  TrafficSplit: ['ts', 'trafficsplits'],
  TrafficTarget: ['tt', 'traffictargets'],
  HTTPRouteGroup: ['httproutegroups'],
  NetworkPolicy: ['netpol', 'networkpolicies'],
  CiliumNetworkPolicy: ['cnp', 'ciliumnetworkpolicies'],
};

const INDEX = new Map<string, string>();
for (const [kind, aliases] of Object.entries(KINDS)) {
  INDEX.set(kind.toLowerCase(), kind);
  for (const a of aliases) INDEX.set(a, kind);
}

/** The canonical kind; unknown names are passed through as written (the server decides). */
export function canonicalKind(input: string): string {
  return INDEX.get(input.toLowerCase()) ?? input;
}

/** "pods"/"workloads" are the registry, not stored resources. */
export function isWorkloadKind(input: string): boolean {
  return ['pod', 'pods', 'po', 'workload', 'workloads'].includes(input.toLowerCase());
}
