# s3c in a container: `docker compose run --rm s3c upload /data s3://demo/data`
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY scripts ./scripts
COPY tools/fauxqs/package.json ./tools/fauxqs/package.json
RUN npm ci --no-audit --no-fund --ignore-scripts && npm run build && npm prune --omit=dev
ENV AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
ENTRYPOINT ["node", "--max-semi-space-size=4", "--heap-growing-percent=20", "/app/bin/run.js"]
