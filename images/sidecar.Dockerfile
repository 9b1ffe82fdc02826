# syntax=docker/dockerfile:1
# The model-pod image: the TypeScript sidecar server with the native predictor addon (C++,
# OpenBLAS), running as uid 65532 (the user the operator's pod securityContext asks for).
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

# ---- runtime: Node.js and the OpenBLAS and oneDNN shared libraries, nothing else ----
FROM node:${NODE_VERSION}-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libdnnl2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin nonroot \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules/ ./node_modules/
COPY --from=build /src/build/Release/paddle_native.node ./build/Release/paddle_native.node
COPY --from=build /src/dist/crds/ ./dist/crds/
COPY --from=build /src/dist/native/ ./dist/native/
COPY --from=build /src/dist/sidecar/ ./dist/sidecar/
# paddle-model (the model-fetch init container runs `paddle-model fetch`); bin/load.mjs falls
# back to dist/ since tsx is a dev dependency.
COPY --from=build /src/bin/ ./bin/
RUN ln -s /app/bin/paddle-model.mjs /usr/local/bin/paddle-model && ln -s /app/bin/paddle-sidecar.mjs /usr/local/bin/paddle-sidecar
USER 65532:65532
# Serving (HTTPS), metrics and health (probe) ports of the pod contract (crds/src/pod-contract.ts).
EXPOSE 8443 9090 8081 8001
ENTRYPOINT ["node", "dist/sidecar/src/main.js"]
