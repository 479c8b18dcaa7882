export * from './content.ts'
export * from './problems.ts'
export * from './users.ts'
