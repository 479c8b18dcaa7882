export * from './files.ts'
export * from './policy.ts'
export * from './types.ts'
