// The Service in front of the model pods: the serving port (HTTPS, or HTTP when TLS is off) and
// the plain-HTTP metrics port for Prometheus.

import type { V1Service } from '@kubernetes/client-node';
import { PORTS, type PaddleService } from '../../../crds/src/index.js';
import { childMeta, childNames, nameOf, selectorLabels } from './common.js';

export function servingPortName(ps: PaddleService): 'https' | 'http' {
  return ps.spec.tls?.enabled === false ? 'http' : 'https';
}

export function buildService(ps: PaddleService): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(ps, childNames(nameOf(ps)).service, 'serving'),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(ps),
      ports: [
        { name: servingPortName(ps), port: PORTS.serving, targetPort: servingPortName(ps), protocol: 'TCP' },
        { name: 'metrics', port: PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
        // OIP v2 gRPC on the serving port's certificates (plain h2c when TLS is off).
        { name: 'grpc', port: PORTS.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
      ],
    },
  };
}

/** The in-cluster URL clients use (written to status.url). */
export function serviceUrl(ps: PaddleService, clusterDomain: string): string {
  const scheme = servingPortName(ps);
  return `${scheme}://${nameOf(ps)}.${ps.metadata.namespace ?? 'default'}.svc.${clusterDomain}:${PORTS.serving}`;
}
