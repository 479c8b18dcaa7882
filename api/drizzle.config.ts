import { defineConfig } from 'drizzle-kit'

// Only generates SQL from the schema; migrations are applied by the app at start (api/src/db/index.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: '../drizzle',
})
