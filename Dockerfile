# syntax=docker/dockerfile:1
#
# xks-proxy container image. Build:
#   docker build -t xks-proxy .                                # software keystore, PKCS#11 (bring your HSM's library), KMIP, upstream
#   docker build -t xks-proxy:softhsm --build-arg WITH_SOFTHSM=true .   # plus SoftHSM2 for trying PKCS#11 without an HSM
# Run (config and secrets mounted read-only, data on a volume):
#   docker run -v /srv/xks/etc:/etc/xks-proxy:ro -v xks-data:/var/lib/xks-proxy -p 8443:8443 xks-proxy
# See docs/deploy.md. No secret is baked into the image: they come from the mounted config
# directory (file:) or the environment (env:).

ARG NODE_VERSION=20.19

# ---- base: runtime OS packages and the unprivileged user, shared by both stages ----
FROM node:${NODE_VERSION}-bookworm-slim AS base
ARG WITH_SOFTHSM=false
RUN set -eux; \
    if [ "$WITH_SOFTHSM" = "true" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends softhsm2=2.6.* opensc=0.23.*; \
      rm -rf /var/lib/apt/lists/*; \
      mkdir -p /etc/xks-proxy-softhsm; \
      printf 'directories.tokendir = /var/lib/xks-proxy/softhsm-tokens\nobjectstore.backend = file\nlog.level = ERROR\n' > /etc/xks-proxy-softhsm/softhsm2.conf; \
    fi; \
    groupadd --system --gid 10001 xks; \
    useradd --system --uid 10001 --gid xks --home-dir /var/lib/xks-proxy --shell /usr/sbin/nologin xks; \
    mkdir -p /etc/xks-proxy /var/lib/xks-proxy; \
    chown xks:xks /var/lib/xks-proxy
# node-gyp (pkcs11js) finds Node's headers here in the official image; this overrides the
# repository's .npmrc, which points at Debian's /usr for development machines.
ENV npm_config_nodedir=/usr/local
WORKDIR /app

# ---- verify: the full dev install type-checks the sources that ship ----
FROM base AS verify
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 make g++; \
    rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY bin ./bin
COPY src ./src
# tsconfig.json includes test/ and bench/ too; only src/ is in this stage, and only src/ ships.
# The image runs the esbuild bundle of src/ (dist/xks-proxy.mjs): ~12% less CPU per request
# than running the TypeScript through tsx (docs/performance.md).
RUN npx tsc --noEmit && npm run build

# ---- final: production dependencies only, non-root ----
FROM base AS final
COPY --from=verify /app/dist ./dist
COPY package.json package-lock.json .npmrc ./
# The compiler is needed only to build pkcs11js; it is removed in the same layer.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 make g++; \
    npm ci --omit=dev --no-audit --no-fund; \
    npm cache clean --force; \
    apt-get purge -y --auto-remove python3 make g++; \
    rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache
COPY bin ./bin
COPY src ./src
COPY config ./config
ENV NODE_ENV=production \
    XKS_PROXY_CONFIG=/etc/xks-proxy/xks-proxy.yaml \
    XKS_HEALTHCHECK_URL=http://127.0.0.1:9480/ping
ENV SOFTHSM2_CONF=/etc/xks-proxy-softhsm/softhsm2.conf
# Config (read-only, with TLS files and secret files) and data (keystore, audit log,
# SoftHSM tokens) live outside the image.
VOLUME ["/etc/xks-proxy", "/var/lib/xks-proxy"]
USER xks:xks
# 8443: the XKS API (what the NLB forwards to); 9464 and up: Prometheus metrics when
# configured, one port per worker (serve --workers N: worker i listens on 9464 + i).
# 9480 (admin: in the config, outside the metrics range) stays inside the container: the HEALTHCHECK uses it.
EXPOSE 8443 9464-9479
# GET /ping on the admin listener (config `admin: { port: 9480 }`): plain HTTP on loopback,
# so it works when the XKS port requires a client certificate only AWS holds (mTLS). It
# needs no credentials and touches no key. Without an admin section, set
# XKS_HEALTHCHECK_URL=https://127.0.0.1:8443/ping (only when mTLS is off).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const u=new URL(process.env.XKS_HEALTHCHECK_URL);require(u.protocol==='https:'?'node:https':'node:http').get(u,{rejectUnauthorized:false,timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
# SIGTERM drains requests in flight (shutdown.drainTimeoutMs) and exits 0; SIGHUP reloads.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "dist/xks-proxy.mjs"]
CMD ["serve"]
