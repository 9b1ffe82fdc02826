# syntax=docker/dockerfile:1
# The model-pod image: the TypeScript sidecar server with the native predictor addon (C++,
# OpenBLAS), running as uid 65532 (the user the operator's pod securityContext asks for).
# What goes into the image is images/rootfs.sh (Debian packages, Node.js from the npm registry,
# the app); `make images` builds the same image here without a container engine.
#
# Build from the repository root:
#   docker build -f images/sidecar.Dockerfile -t paddle-sidecar:0.1.0 .

ARG NODE_VERSION=20

# ---- build: the same make targets CI runs (make build-native build-ts) ----
# (build-native also builds the test doubles CMakeLists.txt declares; only the addon is copied
# into the runtime stage.)
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
ENV CI=true
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make pkg-config libopenblas-dev libdnnl-dev \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && mkdir -p node_modules && touch node_modules/.installed
COPY Makefile tsconfig.json tsconfig.build.json CMakeLists.txt ./
COPY mk/ mk/
COPY crds/ crds/
COPY operator/ operator/
COPY sidecar/ sidecar/
COPY native/src/ native/src/
COPY native/test-double/ native/test-double/
COPY native/lib/ native/lib/
COPY e2e/src/ e2e/src/
COPY bin/ bin/
RUN make build-native build-ts && npm prune --omit=dev --no-audit --no-fund
# The runtime root filesystem: the same script images/build.sh runs without a container engine.
COPY images/ images/
RUN images/rootfs.sh sidecar /rootfs /src /src/node_modules

# ---- runtime: Node.js, the OpenBLAS and oneDNN shared libraries and the app, nothing else ----
# Only FROM scratch, the one COPY of /rootfs and config instructions (images/dockerfile.ts reads
# them for the local build; anything else here is refused there).
FROM scratch
COPY --from=build /rootfs/ /
WORKDIR /app
ENV NODE_ENV=production PATH=/usr/local/bin:/usr/bin:/bin
# Large freed blocks go back to the kernel (see the Deployment builder's env).
ENV MALLOC_MMAP_THRESHOLD_=131072 MALLOC_ARENA_MAX=2
USER 65532:65532
# Serving (HTTPS), metrics and health (probe) ports of the pod contract (crds/src/pod-contract.ts).
EXPOSE 8443 9090 8081 8001
ENTRYPOINT ["/usr/local/bin/node", "dist/sidecar/src/main.js"]
