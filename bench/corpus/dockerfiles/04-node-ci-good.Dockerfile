FROM node:20.14.0-bookworm-slim@sha256:5a2d4a5e2bd6c4a8a2ea8f7b2cf0fa1b8ff7e1e1f1b1a1c1d1e1f1a1b1c1d1e1f AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

FROM gcr.io/distroless/nodejs20-debian12:nonroot@sha256:0d1f2e3d4c5b6a7980f1e2d3c4b5a69788f1e2d3c4b5a6978f1e2d3c4b5a6978
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
CMD ["server.js"]
