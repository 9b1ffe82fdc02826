// sidecar/proto/inference.proto was written for this project from the public OIP v2 field
// numbers; this test holds every message, field number and field type in it equal to the
// descriptors tritonclient ships (its service_pb2 / model_config_pb2), so a client built from
// the upstream .proto reads and writes exactly what the sidecar does.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { loadSync } from '@grpc/proto-loader';
import { clientsPython } from '../../clients/python-path.js';
import { PROTO_FILE } from '../src/grpc/service.js';

interface Field { name: string; number: number; type: string; label: string; typeName: string }
interface MessageType { name: string; field: Field[]; nestedType: MessageType[]; options?: { mapEntry?: boolean } | null }

const DUMP = `
import json
from google.protobuf import descriptor
from tritonclient.grpc import service_pb2, model_config_pb2
TYPES = {v: k for k, v in vars(descriptor.FieldDescriptor).items() if k.startswith('TYPE_')}
out = {}
def walk(d, prefix):
    out[prefix + d.name] = {f.name: [f.number, TYPES[f.type], f.message_type.full_name if f.message_type else ''] for f in d.fields}
    for n in d.nested_types:
        walk(n, prefix + d.name + '.')
for mod in (service_pb2, model_config_pb2):
    for d in mod.DESCRIPTOR.message_types_by_name.values():
        walk(d, '')
print(json.dumps(out))
`;

describe('inference.proto against the upstream descriptors', function () {
  this.timeout(120000);
  it('every message and field has the upstream number and type', async () => {
    const upstream = JSON.parse(await new Promise<string>((ok, fail) => execFile(clientsPython(), ['-c', DUMP], (e, out, err) => (e ? fail(new Error(err)) : ok(out))))) as Record<string, Record<string, [number, string, string]>>;
    const pkg = loadSync(PROTO_FILE, { keepCase: true });
    let checked = 0;
    const walk = (m: MessageType, prefix: string): void => {
      const name = prefix + m.name;
      const theirs = upstream[name];
      assert.ok(theirs, `message ${name} exists upstream`);
      for (const f of m.field) {
        const t: [number, string, string] | undefined = theirs[f.name];
        assert.ok(t, `${name}.${f.name} exists upstream`);
        assert.equal(f.number, t[0], `${name}.${f.name} number`);
        assert.equal(f.type, t[1], `${name}.${f.name} type`);
        if (t[2]) assert.equal(f.typeName.split('.').pop()?.replace(/Entry$/, ''), t[2].split('.').pop()?.replace(/Entry$/, ''), `${name}.${f.name} message type`);
        checked++;
      }
      for (const n of m.nestedType) if (!n.options?.mapEntry) walk(n, `${name}.`);
    };
    for (const [key, def] of Object.entries(pkg)) {
      const type = (def as { type?: MessageType; format?: string }).type;
      if (!type || (def as { format?: string }).format !== 'Protocol Buffer 3 DescriptorProto' || key.split('.').length !== 2) continue;
      walk(type, '');
    }
    assert.ok(checked > 60, `fields checked: ${checked}`);
  });
});
