// Spec types of the Kubernetes core kinds weft reads (the subset the local platform runs).

export interface ServicePortSpec {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface ServiceSpec {
  selector?: Record<string, string>;
  ports: ServicePortSpec[];
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  clusterIP?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  /** Only fieldRef to metadata.name, metadata.namespace, status.podIP, spec.serviceAccountName is honoured locally. */
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: 'HTTP' | 'HTTPS'; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
}

export interface PodTemplateSpec {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    serviceAccountName?: string;
    containers: ContainerSpec[];
  };
}

export interface DeploymentSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: PodTemplateSpec;
}

export type NamespaceSpec = Record<string, never>;
export type ServiceAccountSpec = Record<string, never>;
