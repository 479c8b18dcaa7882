import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { asc } from 'drizzle-orm'
import {
  createUser,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  ROLES,
  type Role,
  resetPasswordByEmail,
  setStatusByEmail,
} from '../auth/users.ts'
import { ConfigError, loadConfig } from '../config.ts'
import { openDatabase } from '../db/index.ts'
import { users } from '../db/schema/index.ts'
import { AppError } from '../http/errors.ts'

/**
 * `bun run admin <command>`: account management against the same configuration and database as the
 * server (DATABASE_URL, or the embedded database in DATA_DIR — stop the server first in that case:
 * PGlite allows one process per data directory).
 */

const USAGE = `usage: bun run admin <command> [options]

commands:
  create <email> [--role admin|editor]   create an account (default role: editor)
  reset-password <email>                 set a new password; ends every session of the account
  disable <email>                        block sign-in; ends every session of the account
  enable <email>                         allow sign-in again
  list                                   list live accounts

password options (create, reset-password):
  --password-stdin   read the password from standard input (first line)
  --generate         generate a strong password and print it once
  (default: prompt on a terminal, read standard input otherwise)
`

class UsageError extends Error {}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`)
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new UsageError('the password is too long')
  return password
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(label: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(label)
  stdin.setRawMode(true)
  stdin.resume()
  return new Promise((resolve, reject) => {
    let value = ''
    const done = (err?: Error) => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('cancelled'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else value += ch
      }
    }
    stdin.on('data', onData)
  })
}

async function obtainPassword(flags: { 'password-stdin'?: boolean; generate?: boolean }) {
  if (flags.generate && flags['password-stdin']) throw new UsageError('use either --generate or --password-stdin')
  if (flags.generate) return { password: randomBytes(18).toString('base64url'), generated: true }
  if (flags['password-stdin'] || !process.stdin.isTTY) {
    const line = (await Bun.stdin.text()).split(/\r?\n/)[0] ?? ''
    if (!line) throw new UsageError('no password on standard input (or use --generate)')
    return { password: checkPassword(line), generated: false }
  }
  const first = checkPassword(await promptHidden('New password: '))
  if ((await promptHidden('Repeat it: ')) !== first) throw new UsageError('the passwords do not match')
  return { password: first, generated: false }
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  const parse = (args: string[]) =>
    parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        generate: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  try {
    parsed = parse(argv)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help || command === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  if (!command) throw new UsageError('missing command')
  const known = ['create', 'reset-password', 'disable', 'enable', 'list']
  if (!known.includes(command)) throw new UsageError(`unknown command '${command}'`)
  const wantsEmail = command !== 'list'
  if (wantsEmail && rest.length !== 1) throw new UsageError(`${command} takes exactly one email address`)
  if (!wantsEmail && rest.length > 0) throw new UsageError(`${command} takes no arguments`)
  const email = rest[0] ?? ''
  if (wantsEmail && !EMAIL.test(email)) throw new UsageError(`'${email}' is not an email address`)
  if (values.role !== undefined && command !== 'create') throw new UsageError('--role applies to create only')
  const role = (values.role ?? 'editor') as Role
  if (!ROLES.includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`)
  const wantsPassword = command === 'create' || command === 'reset-password'
  if (!wantsPassword && (values.generate || values['password-stdin'])) {
    throw new UsageError(`${command} takes no password options`)
  }
  // Read the password before opening the database so a bad one fails fast.
  const secret = wantsPassword ? await obtainPassword(values) : undefined

  const config = loadConfig()
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, max: 1 })
  try {
    await database.migrate()
    const db = database.db
    switch (command) {
      case 'create': {
        const user = await createUser(db, { email, password: secret!.password, role })
        process.stdout.write(`created ${user.role} ${user.email} (${user.id})\n`)
        break
      }
      case 'reset-password': {
        const user = await resetPasswordByEmail(db, email, secret!.password)
        process.stdout.write(`password reset for ${user.email}; every session of the account has ended\n`)
        break
      }
      case 'disable':
      case 'enable': {
        const user = await setStatusByEmail(db, email, command === 'disable' ? 'disabled' : 'active')
        process.stdout.write(`${user.email} is now ${user.status}\n`)
        break
      }
      case 'list': {
        const rows = await db
          .select({ email: users.email, role: users.role, status: users.status, deletedAt: users.deletedAt })
          .from(users)
          .orderBy(asc(users.email))
        for (const r of rows.filter((r) => r.deletedAt === null)) {
          process.stdout.write(`${r.email}\t${r.role}\t${r.status}\n`)
        }
        break
      }
    }
    if (secret?.generated) process.stdout.write(`password (shown once, store it now): ${secret.password}\n`)
    return 0
  } finally {
    await database.close()
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`admin: ${err.message}\n\n${USAGE}`)
    process.exitCode = 64
  } else if (err instanceof ConfigError) {
    process.stderr.write(`admin: ${err.message}\n`)
    process.exitCode = 78
  } else if (err instanceof AppError) {
    process.stderr.write(`admin: ${err.message}\n`)
    process.exitCode = 1
  } else {
    throw err
  }
}
