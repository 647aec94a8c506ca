ARG NODE_VERSION=18
ARG BASE=node:${NODE_VERSION}-alpine
FROM ${BASE} AS deps
WORKDIR /app
COPY package.json yarn.lock ./
RUN yarn install

FROM ${BASE}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
USER node
CMD ["node", "index.js"]
