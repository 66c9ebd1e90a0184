# Flywheel: one image for every process (migrate, scheduler, workers, web).
# DAG files and operators are TypeScript, loaded at run time through tsx (a runtime dependency),
# so there is no build step.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

ENTRYPOINT ["node", "bin/flywheel.js"]
CMD ["--help"]
