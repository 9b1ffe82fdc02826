import assert from 'node:assert/strict';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';
import { paddleServiceSchema, type SchemaNode } from '../src/index.js';

// Keeps crds/src/types.ts in step with the CRD: every property path the TypeScript types
// declare exists in the schema, and every schema path has a TypeScript property.

const TYPES_FILE = fileURLToPath(new URL('../src/types.ts', import.meta.url));

let program: ts.Program | undefined;

function typePaths(rootName: string): Set<string> {
  // Building the program loads the TypeScript lib files: a few seconds, done once.
  program ??= ts.createProgram([TYPES_FILE], { strict: true, target: ts.ScriptTarget.ES2022, noLib: false });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(TYPES_FILE);
  if (!source) throw new Error('types.ts not found');
  const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === rootName);
  if (!decl) throw new Error(`${rootName} not found`);
  const out = new Set<string>();
  const visit = (type: ts.Type, path: string[], depth: number): void => {
    if (depth > 12) return;
    const t = checker.getNonNullableType(type);
    if (checker.isArrayType(t)) {
      const [element] = checker.getTypeArguments(t as ts.TypeReference);
      if (element) visit(element, [...path, '*'], depth + 1);
      return;
    }
    if (!(t.flags & ts.TypeFlags.Object)) return;
    const index = checker.getIndexInfosOfType(t)[0];
    if (index) {
      if (!(index.type.flags & ts.TypeFlags.Unknown)) visit(index.type, [...path, '*'], depth + 1);
      return;
    }
    for (const prop of checker.getPropertiesOfType(t)) {
      const propPath = [...path, prop.name];
      out.add(propPath.join('.'));
      visit(checker.getTypeOfSymbolAtLocation(prop, decl), propPath, depth + 1);
    }
  };
  visit(checker.getTypeAtLocation(decl), [], 0);
  return out;
}

function schemaPaths(node: SchemaNode): Set<string> {
  const out = new Set<string>();
  const walk = (n: SchemaNode, path: string[]): void => {
    if (n['x-kubernetes-preserve-unknown-fields']) return;
    for (const [key, child] of Object.entries(n.properties ?? {})) {
      out.add([...path, key].join('.'));
      walk(child, [...path, key]);
    }
    if (n.items) walk(n.items, [...path, '*']);
    if (typeof n.additionalProperties === 'object') walk(n.additionalProperties, [...path, '*']);
  };
  walk(node, []);
  return out;
}

describe('TypeScript types vs the CRD schema', function () {
  this.timeout(300_000); // the TypeScript compiler on a loaded machine: a bound on a hang
  const schema = paddleServiceSchema();
  for (const [root, field] of [
    ['PaddleServiceSpec', 'spec'],
    ['PaddleServiceStatus', 'status'],
  ] as const) {
    it(`${root} declares exactly the ${field} fields of the CRD`, () => {
      const fromTypes = typePaths(root);
      const node = schema.properties?.[field];
      assert.ok(node);
      const fromSchema = schemaPaths(node);
      assert.ok(fromSchema.size > 40, `only ${fromSchema.size} paths in the schema`);
      assert.deepEqual([...fromTypes].filter((p) => !fromSchema.has(p)).sort(), [], 'in types.ts but not in the CRD');
      assert.deepEqual([...fromSchema].filter((p) => !fromTypes.has(p)).sort(), [], 'in the CRD but not in types.ts');
    });
  }
});
