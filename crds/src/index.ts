// Public entry of the PaddleService API: types, the pod contract, defaults and validation.
export * from './types.js';
export * from './pod-contract.js';
export { applyDefaults, applySchemaDefaults, withDefaults } from './defaults.js';
export { validatePaddleService, checkCelRules, formatValidationErrors, type ValidationError, type ValidationResult } from './validate.js';
export { loadCrd, paddleServiceSchema, crdPath, CRD_FILE_NAME, type CustomResourceDefinition, type SchemaNode } from './schema.js';
export { CEL_RULES, type CelRule } from './cel-rules.js';
