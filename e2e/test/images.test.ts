// images/*.Dockerfile and the local image builder (images/build.sh) cannot drift apart: both run
// images/rootfs.sh for the files, and the local builder takes the config from the Dockerfile's
// runtime stage through images/dockerfile.ts, which refuses any instruction it would not apply.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOTFS_COPY, rootfsCommand, runtimeConfig, stages, umociArgs } from '../../images/dockerfile.js';
import { REPO_ROOT } from '../src/index.js';

const dockerfile = (name: string): string => readFileSync(join(REPO_ROOT, 'images', `${name}.Dockerfile`), 'utf8');

describe('images: the Dockerfiles and the local builder share one description', () => {
  for (const name of ['sidecar', 'operator']) {
    describe(`${name}.Dockerfile`, () => {
      const text = dockerfile(name);

      it('its build stage copies images/ and runs images/rootfs.sh for this image into the directory the runtime stage copies', () => {
        const [image, out, src] = rootfsCommand(text);
        assert.equal(image, name);
        assert.equal(out, '/rootfs', `the runtime stage copies /rootfs/ (${ROOTFS_COPY})`);
        assert.equal(src, '/src');
        const build = stages(text)[0] ?? [];
        const copyImages = build.findIndex((i) => i.keyword === 'COPY' && /^images\/ images\/$/.test(i.args));
        const run = build.findIndex((i) => i.keyword === 'RUN' && i.args.includes('images/rootfs.sh'));
        assert.ok(copyImages >= 0 && copyImages < run, 'COPY images/ images/ comes before the rootfs.sh RUN');
        if (name === 'sidecar') assert.equal(rootfsCommand(text)[3], '/src/node_modules', 'the pruned node_modules');
      });

      it('its runtime stage is FROM scratch + the rootfs + config the local builder applies', () => {
        const cfg = runtimeConfig(text);
        assert.equal(cfg.user, '65532:65532');
        assert.equal(cfg.workdir, '/app');
        assert.equal(cfg.entrypoint[0], '/usr/local/bin/node', 'Node.js where rootfs.sh installs it');
        assert.equal(cfg.env.NODE_ENV, 'production');
        const args = umociArgs(cfg);
        assert.deepEqual(args.slice(0, 4), ['--config.user', '65532:65532', '--config.workingdir', '/app']);
        for (const p of cfg.exposedPorts) assert.ok(args.includes(p));
      });
    });
  }

  const base = dockerfile('sidecar');
  const runtimeStart = base.lastIndexOf('FROM scratch');
  const withRuntimeLine = (line: string): string => `${base.slice(0, runtimeStart)}FROM scratch\n${line}\n${base.slice(runtimeStart + 'FROM scratch\n'.length)}`;

  for (const [line, message] of [
    ['RUN rm -rf /tmp', /RUN in the runtime stage is not applied/],
    ['COPY --from=build /src/extra /extra', /copies exactly once/],
    ['ADD extra.tar /', /ADD in the runtime stage is not applied/],
    ['HEALTHCHECK CMD ["true"]', /HEALTHCHECK in the runtime stage is not applied/],
    ['ENV A="quoted value"', /only unquoted KEY=value pairs/],
  ] as const) {
    it(`refuses a runtime-stage step the local builder would miss: ${line}`, () => {
      assert.throws(() => runtimeConfig(withRuntimeLine(line)), message);
    });
  }

  it('refuses a runtime stage built on a base image (its files would be missing here)', () => {
    assert.throws(() => runtimeConfig(base.replace(/FROM scratch\n(?![\s\S]*FROM scratch)/, 'FROM debian:12-slim\n')), /must be FROM scratch/);
  });

  it('joins continuation lines and skips comments inside them', () => {
    const cfg = runtimeConfig('FROM x AS build\nRUN images/rootfs.sh a /rootfs /src\nFROM scratch\nCOPY --from=build /rootfs/ /\nENV A=1 \\\n# note\n  B=2\nUSER 1:1\nENTRYPOINT ["/x"]\n');
    assert.deepEqual(cfg.env, { A: '1', B: '2' });
  });
});
