# syntax=docker/dockerfile:1
#
# One image per service, from one file: each service is a build target.
#
#   docker build --target gateway        -t switchboard/gateway .
#   docker build --target webhook-ingest -t switchboard/webhook-ingest .
#   docker build --target notifier       -t switchboard/notifier .
#   docker build --target standalone     -t switchboard/standalone .   (all three in one process)
#
# The services share one lockfile and one build (webpack bundles each app with the libs it
# uses into dist/apps/<name>/main.js), so the dependency and build stages are shared and
# cached: building all three images installs and compiles once. Each final image holds
# only the production dependencies and its own service's bundle, runs as a non-root user
# on a read-only root filesystem, and starts `node dist/apps/<name>/main.js` without a
# shell. docs/OPERATIONS.md ("Images") says why this is one file rather than three.

# Override to pin a digest: --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:…
ARG NODE_IMAGE=node:24-bookworm-slim

# --- production dependencies only ---------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency needs an install script; refusing them keeps the image to
# what the lockfile names.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- build every service ------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY libs ./libs
COPY apps ./apps
RUN npm run build

# --- what every service image shares -------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# Owned by root and read-only for the service user: the process cannot change its code.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
# The official image's `node` user; numeric so Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 8080
# No shell at run time: bypass the base image's docker-entrypoint.sh and use exec form,
# so node is PID 1 and gets SIGTERM (the services drain on it, then exit 0).
ENTRYPOINT []
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# --- one target per service ----------------------------------------------------------
FROM runtime AS gateway
COPY --from=build /app/dist/apps/gateway ./dist/apps/gateway
CMD ["node", "dist/apps/gateway/main.js"]

FROM runtime AS webhook-ingest
COPY --from=build /app/dist/apps/webhook-ingest ./dist/apps/webhook-ingest
CMD ["node", "dist/apps/webhook-ingest/main.js"]

FROM runtime AS notifier
COPY --from=build /app/dist/apps/notifier ./dist/apps/notifier
CMD ["node", "dist/apps/notifier/main.js"]

FROM runtime AS standalone
COPY --from=build /app/dist/apps/standalone ./dist/apps/standalone
CMD ["node", "dist/apps/standalone/main.js"]
