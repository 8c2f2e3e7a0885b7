# syntax=docker/dockerfile:1
# metapilot: `docker build -t metapilot .` builds the `metapilot` CLI; the Helm chart runs `metapilot controller`.

# The official node image of the project's Node.js major (hack/versions.env NODE_VERSION; the unit test
# hack/lib/metapilot-image.test.ts fails when the majors differ or the image is not pinned by digest). The digest is
# the multi-platform index of node:24.21.0-bookworm-slim as docker-library/repo-info records it
# (repos/node/remote/24.21.0-bookworm-slim.md, built 2026-09-09), the newest 24.x record that could be read here:
# this machine cannot reach Docker Hub. When it can, pin the digest of the version in hack/versions.env instead:
#   docker buildx imagetools inspect node:<NODE_VERSION>-bookworm-slim --format '{{.Manifest.Digest}}'
ARG NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553

# --- build: all dependencies, compile TypeScript to dist/ -------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Only src/ is needed at run time; tsconfig's other inputs (test, hack, bench) are left out of the image.
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
  # The dashboard's static files are read from src/server/dashboard/ui by the compiled code; make sure the path
  # exists even in a tree without a dashboard, so the COPY below never fails.
  && mkdir -p src/server/dashboard/ui

# --- deps: production dependencies only --------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# Nothing at run time installs packages: the node image's npm, npx, corepack and yarn are removed, so the runtime
# filesystem has no package manager (their bytes stay, hidden, in the base image's layers); node stays in
# /usr/local/bin.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-v* \
  && node --version
ENV NODE_ENV=production
WORKDIR /app
# package.json: "type": "module" for the compiled ESM, and the version the CLI reports.
COPY --chown=0:0 package.json ./
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist/src ./dist/src
COPY --from=build --chown=0:0 /app/src/server/dashboard/ui ./src/server/dashboard/ui
# Files are owned by root and not writable by the process: it runs as an unprivileged uid, and nothing at run time
# writes to the image, so the root filesystem can be mounted read-only (the chart gives /tmp an emptyDir).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["controller"]
