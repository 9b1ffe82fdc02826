# syntax=docker/dockerfile:1
# The operator image: the TypeScript controller, bundled with its npm packages into one module
# (make build-ts; see mk/60-operator.mk), on Node.js alone (no shell, no package manager, no
# node_modules), running as uid 65532. What goes into the image is images/rootfs.sh; `make images`
# builds the same image here without a container engine.
#
# Build from the repository root:
#   docker build -f images/operator.Dockerfile -t paddle-operator:0.1.0 .

ARG NODE_VERSION=20

# ---- build: the same make target CI runs (make build-ts) ----
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
ENV CI=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && mkdir -p node_modules && touch node_modules/.installed
COPY Makefile tsconfig.json tsconfig.build.json ./
COPY mk/ mk/
COPY crds/ crds/
COPY operator/ operator/
COPY sidecar/ sidecar/
COPY native/lib/ native/lib/
COPY e2e/src/ e2e/src/
RUN make build-ts
# The runtime root filesystem: the same script images/build.sh runs without a container engine.
COPY images/ images/
RUN images/rootfs.sh operator /rootfs /src

# ---- runtime: Node.js and the bundled controller (no shell, no package manager, no node_modules) ----
# Only FROM scratch, the one COPY of /rootfs and config instructions (images/dockerfile.ts reads
# them for the local build; anything else here is refused there).
FROM scratch
COPY --from=build /rootfs/ /
WORKDIR /app
ENV NODE_ENV=production PATH=/usr/local/bin:/usr/bin:/bin
USER 65532:65532
# The ops port (/healthz, /readyz, /metrics) the operator and the chart default to.
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/node", "dist/operator/main.js"]
