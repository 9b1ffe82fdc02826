// The chart README's parameters table is generated from values.yaml and must be current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README, readmeWithTable } from '../scripts/values-table.js';

describe('chart README', () => {
  it('lists every value with its documentation and default (run make chart-docs after changing values.yaml)', () => {
    const committed = readFileSync(README, 'utf8');
    assert.ok(committed === readmeWithTable(committed), 'charts/paddle-operator/README.md is out of date: run make chart-docs');
  });

  it('shows the helm install command a user types', () => {
    assert.match(readFileSync(README, 'utf8'), /helm install paddle-operator \.\/charts\/paddle-operator \\\n\s+--namespace paddle-system --create-namespace/);
  });
});
