// The e2e scaffolding's public entry.
export { CLUSTER_DIR, E2E_DIR, REPO_ROOT, kubeconfigPath, kubectlPath, parseEnvFile, pinnedVersions } from './paths.js';
export { waitFor, waitForValue, type Check, type WaitOptions } from './wait-for.js';
export { E2E_FIELD_MANAGER, apiErrorMessage, applyObject, createObject, deleteObject, applyYaml, applyYamlFile, isNotFound, makeClients, type Clients } from './kube.js';
export { isTransientKubectlFailure, kubectl, type KubectlOptions, type KubectlResult } from './kubectl.js';
export { E2E_NAMESPACE_LABEL, SERVICE_ACCOUNT_TIMEOUT_MS, createTestNamespace, deleteTestNamespace, useTestNamespace } from './namespace.js';
export { isConflict, isTransientApiError, retryTransient, type RetryOptions } from './retry.js';
