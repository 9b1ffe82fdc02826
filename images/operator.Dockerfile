# syntax=docker/dockerfile:1
# The operator image: the TypeScript controller, bundled with its npm packages into one module
# (make build-ts; see mk/60-operator.mk), on a distroless Node.js runtime (no shell, no package
# manager, no node_modules), running as uid 65532.
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

# ---- runtime ----
FROM gcr.io/distroless/nodejs${NODE_VERSION}-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# package.json for "type": "module"; the bundle needs nothing from node_modules.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist/crds/ ./dist/crds/
COPY --from=build /src/dist/operator/main.js ./dist/operator/main.js
USER 65532:65532
# The ops port (/healthz, /readyz, /metrics) the operator and the chart default to.
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/operator/main.js"]
