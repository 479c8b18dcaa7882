/**
 * Builds the Shellfolio sandbox image without any image registry (docs/runners.md, "The sandbox image"):
 * debootstrap of the distribution this machine uses, through its configured apt mirror, then
 * `docker import`. The tag is `shellfolio-sandbox:<hash of the image inputs>`, so the image is only
 * rebuilt when the build script or the files in `runner/image/files/` change. Projects are not in
 * the image: their files are copied into each session when it opens (docs/runners.md).
 *
 * The toolchain images (docs/projects.md: python, node, go, rust) are built FROM that image by
 * installing Debian packages through the same mirror, then `docker commit`; each is tagged
 * `shellfolio-sandbox-<runtime>:<hash of the base tag and its packages>`.
 *
 *   bun run runner/image/build.ts                    # the sandbox (c) image; prints the tag
 *   bun run runner/image/build.ts --runtime python   # that toolchain image (and the base if missing)
 *   bun run runner/image/build.ts --runtime all      # every image
 *
 * The debootstrap result is cached as a tarball under `.cache/sandbox/` (keyed by mirror, suite and
 * package list), so a rebuild after a project change takes seconds. `runner/image/Dockerfile`
 * builds the same image from `debian:bookworm-slim` where a registry is reachable.
 */
import { createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'

const IMAGE_DIR = import.meta.dir
export const REPO_ROOT = resolve(IMAGE_DIR, '../..')
const CACHE_DIR = join(REPO_ROOT, '.cache', 'sandbox')
export const IMAGE_REPOSITORY = 'shellfolio-sandbox'

/** Packages on top of debootstrap's minbase: the C toolchain and a few terminal comforts. */
const PACKAGES = ['make', 'gcc', 'libc6-dev', 'ncurses-bin', 'procps', 'less', 'nano']
const VARIANT = 'minbase'

/**
 * Only the runner's test fixture is baked in (the raw-docker benchmark compiles it without a
 * session); sessions never see it: their project's files are copied in when they open.
 */
const PROJECT_ROOTS = ['runner/fixtures']
/** Build outputs, prebuilt binaries and test expectations stay out: visitors build from source. */
const SKIP_DIRS = new Set(['prebuilt', 'dist', 'build', 'golden', 'node_modules', '.git'])

function isBinaryOutput(path: string): boolean {
  if (path.endsWith('.wasm') || path.endsWith('.o')) return true
  const head = Buffer.alloc(4)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, 4, 0)
  } finally {
    closeSync(fd)
  }
  return head[0] === 0x7f && head.toString('latin1', 1, 4) === 'ELF'
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) walk(path, out)
    } else if (entry.isFile() && !isBinaryOutput(path)) {
      out.push(path)
    }
  }
}

/** Project directories baked into the image, as `{ slug, dir }`. A later root wins on a clash. */
export function projectDirs(root = REPO_ROOT): { slug: string; dir: string }[] {
  const bySlug = new Map<string, string>()
  for (const projectRoot of PROJECT_ROOTS) {
    const abs = join(root, projectRoot)
    if (!existsSync(abs)) continue
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const dir = join(abs, entry.name)
      // a project is a folder with a Makefile or project.json (wasm-projects/test is not one)
      const isProject = existsSync(join(dir, 'Makefile')) || existsSync(join(dir, 'project.json'))
      if (entry.isDirectory() && !SKIP_DIRS.has(entry.name) && isProject) bySlug.set(entry.name, dir)
    }
  }
  return [...bySlug.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([slug, dir]) => ({ slug, dir }))
}

/** Every file that goes into the image besides the debootstrap rootfs, as absolute paths. */
function imageInputs(root: string): string[] {
  const files: string[] = [join(IMAGE_DIR, 'build.ts')]
  walk(join(IMAGE_DIR, 'files'), files)
  for (const { dir } of projectDirs(root)) walk(dir, files)
  return files
}

/**
 * The image tag for the current inputs: `shellfolio-sandbox:<12 hex>`. Cheap (hashes a few hundred
 * KB), so the runner calls it at start to know which image to use.
 */
export function sandboxImageTag(root = REPO_ROOT): string {
  const hash = createHash('sha256')
  hash.update(`packages=${PACKAGES.join(',')};variant=${VARIANT}\n`)
  for (const file of imageInputs(root)) {
    hash.update(`${relative(root, file)}\0${statSync(file).mode & 0o111 ? 'x' : '-'}\0`)
    hash.update(readFileSync(file))
    hash.update('\0')
  }
  return `${IMAGE_REPOSITORY}:${hash.digest('hex').slice(0, 12)}`
}

export interface AptSource {
  uri: string
  suite: string
  components: string[]
  keyring?: string
}

/**
 * The main Debian suite and mirror this machine's apt uses, from deb822 `*.sources` files (falling
 * back to one-line `sources.list`). Security and updates suites are skipped: debootstrap wants the
 * release suite.
 */
export function aptSource(): AptSource {
  const dir = '/etc/apt/sources.list.d'
  const stanzas: Record<string, string>[] = []
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)
      .filter((n) => n.endsWith('.sources'))
      .sort()) {
      for (const block of readFileSync(join(dir, name), 'utf8').split(/\n\s*\n/)) {
        const fields: Record<string, string> = {}
        for (const line of block.split('\n')) {
          const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line)
          if (m?.[1] && m[2] !== undefined) fields[m[1].toLowerCase()] = m[2].trim()
        }
        if (fields.uris && fields.suites) stanzas.push(fields)
      }
    }
  }
  for (const s of stanzas) {
    if (s.enabled === 'no' || !(s.types ?? 'deb').split(/\s+/).includes('deb')) continue
    const suite = s.suites?.split(/\s+/).find((x) => !x.includes('-') && !x.includes('/'))
    const uri = s.uris?.split(/\s+/)[0]
    if (suite && uri) {
      return {
        uri,
        suite,
        components: (s.components ?? 'main').split(/\s+/),
        ...(s['signed-by'] && existsSync(s['signed-by']) ? { keyring: s['signed-by'] } : {}),
      }
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line.trim())
      if (m?.[1] && m[2] && !m[2].includes('-'))
        return { uri: m[1], suite: m[2], components: (m[3] ?? 'main').split(/\s+/) }
    }
  }
  throw new Error('no Debian release suite found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list')
}

const started = performance.now()
function stage(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6)
  console.log(`[${s}s] ${message}`)
}

async function run(cmd: string[], opts: { quiet?: boolean; stdin?: 'ignore' } = {}): Promise<string> {
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', stdin: opts.stdin ?? 'ignore' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0) {
    throw new Error(`${cmd.join(' ')} failed (exit ${code}):\n${(err || out).trim().split('\n').slice(-15).join('\n')}`)
  }
  return out
}

async function imageExists(tag: string): Promise<boolean> {
  const proc = Bun.spawn(['docker', 'image', 'inspect', '--format', '{{.Id}}', tag], {
    stdout: 'ignore',
    stderr: 'ignore',
  })
  return (await proc.exited) === 0
}

/** The debootstrap rootfs tarball for this mirror/suite/package list, built once and cached. */
async function baseRootfs(source: AptSource): Promise<string> {
  const arch = (await run(['dpkg', '--print-architecture'])).trim()
  const key = createHash('sha256')
    .update(JSON.stringify({ uri: source.uri, suite: source.suite, arch, VARIANT, PACKAGES }))
    .digest('hex')
    .slice(0, 12)
  const tarball = join(CACHE_DIR, `rootfs-${source.suite}-${key}.tar`)
  if (existsSync(tarball)) {
    stage(`debootstrap: cached ${relative(REPO_ROOT, tarball)}`)
    return tarball
  }
  const target = join(CACHE_DIR, `debootstrap-${key}.tmp`)
  rmSync(target, { recursive: true, force: true })
  mkdirSync(join(CACHE_DIR, 'debs'), { recursive: true })
  stage(`debootstrap: ${VARIANT} ${source.suite} from ${source.uri} (+ ${PACKAGES.join(', ')}); takes a few minutes`)
  await run([
    'debootstrap',
    `--variant=${VARIANT}`,
    `--include=${PACKAGES.join(',')}`,
    `--components=${source.components.join(',')}`,
    `--cache-dir=${join(CACHE_DIR, 'debs')}`,
    ...(source.keyring ? [`--keyring=${source.keyring}`] : []),
    `--arch=${arch}`,
    source.suite,
    target,
    source.uri,
  ])
  stage('debootstrap: done; caching the rootfs tarball')
  await run(['tar', '-C', target, '--numeric-owner', '-cf', `${tarball}.tmp`, '.'])
  renameSync(`${tarball}.tmp`, tarball)
  rmSync(target, { recursive: true, force: true })
  return tarball
}

/**
 * Turns an extracted debootstrap rootfs into the sandbox: user `coder`, shell configuration, entry
 * script, projects; strips docs, locales and apt caches; removes setuid/setgid bits (defence in depth
 * on top of no-new-privileges).
 */
async function customize(dir: string, root: string): Promise<void> {
  for (const path of [
    'usr/share/doc',
    'usr/share/man',
    'usr/share/info',
    'usr/share/locale',
    'usr/share/lintian',
    'var/cache/apt',
    'var/lib/apt/lists',
    'var/cache/debconf',
    'var/log',
  ]) {
    rmSync(join(dir, path), { recursive: true, force: true })
    mkdirSync(join(dir, path), { recursive: true })
  }
  const append = async (path: string, text: string) => {
    const file = join(dir, path)
    const before = existsSync(file) ? readFileSync(file, 'utf8') : ''
    await Bun.write(file, before + text)
  }
  await append('etc/passwd', 'coder:x:1000:1000:Shellfolio visitor:/home/coder:/bin/bash\n')
  await append('etc/group', 'coder:x:1000:\n')
  await append('etc/shadow', 'coder:!:19000:0:99999:7:::\n')
  await append('etc/gshadow', 'coder:!::\n')
  await Bun.write(join(dir, 'etc/hostname'), 'shellfolio\n')
  await Bun.write(join(dir, 'etc/bash.bashrc'), Bun.file(join(IMAGE_DIR, 'files/bash.bashrc')))
  await append('etc/inputrc', `\n${readFileSync(join(IMAGE_DIR, 'files/inputrc'), 'utf8')}`)
  mkdirSync(join(dir, 'opt/shellfolio/projects'), { recursive: true })
  await run(['install', '-m', '0755', join(IMAGE_DIR, 'files/entry.sh'), join(dir, 'opt/shellfolio/entry.sh')])
  // `download FILE` (docs/runners.md, "Files")
  await run(['install', '-D', '-m', '0755', join(IMAGE_DIR, 'files/download'), join(dir, 'usr/local/bin/download')])
  // gVisor compatibility (files/statx-compat.c), built by the image's own gcc and preloaded into
  // every program: `ls -l` and `stat` work under runsc as under runc.
  mkdirSync(join(dir, 'opt/shellfolio/lib'), { recursive: true })
  await run(['cp', join(IMAGE_DIR, 'files/statx-compat.c'), join(dir, 'tmp/statx-compat.c')])
  const shim = '/opt/shellfolio/lib/statx-compat.so'
  await run(['chroot', dir, 'gcc', '-O2', '-Wall', '-shared', '-fPIC', '-o', shim, '/tmp/statx-compat.c'])
  rmSync(join(dir, 'tmp/statx-compat.c'))
  await Bun.write(join(dir, 'etc/ld.so.preload'), `${shim}\n`)
  mkdirSync(join(dir, 'home/coder'), { recursive: true })
  await run(['chown', '1000:1000', join(dir, 'home/coder')])

  for (const { slug, dir: src } of projectDirs(root)) {
    const files: string[] = []
    walk(src, files)
    for (const file of files) {
      const dest = join(dir, 'opt/shellfolio/projects', slug, relative(src, file))
      mkdirSync(join(dest, '..'), { recursive: true })
      await run(['cp', '-p', file, dest])
    }
    stage(`fixtures: ${slug} (${files.length} files)`)
  }
  await run(['chmod', '-R', 'u=rwX,go=rX', join(dir, 'opt/shellfolio/projects')])
  await run(['find', dir, '-xdev', '-type', 'f', '-perm', '/6000', '-exec', 'chmod', 'ug-s', '{}', '+'])
}

/**
 * One build at a time per checkout: two test runs starting together would otherwise debootstrap
 * into the same directory. The lock is a directory holding the owner's pid; a dead owner's is taken over.
 */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE_DIR, { recursive: true })
  const lock = join(CACHE_DIR, 'build.lock')
  let announced = false
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch {
      const pid = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : 0)
      if (pid > 0 && !existsSync(`/proc/${pid}`)) {
        rmSync(lock, { recursive: true, force: true })
        continue
      }
      if (!announced) stage(`waiting for another build (pid ${pid || '?'}) to finish`)
      announced = true
      await Bun.sleep(500) // why: polling a lock held by another process; there is nothing to await
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/**
 * Removes older sandbox images (each import is a full copy): keeps the current one and the two most
 * recent others, and never one a container still uses (the engine refuses, which is ignored).
 */
async function pruneOldImages(current: string): Promise<void> {
  const out = await run(['docker', 'image', 'ls', IMAGE_REPOSITORY, '--format', '{{.Repository}}:{{.Tag}}'])
  const others = out
    .split('\n')
    .map((l) => l.trim())
    .filter((t) => t && t !== current && !t.endsWith(':<none>'))
  // `docker image ls` lists newest first
  for (const old of others.slice(2)) {
    // why: removing a 265 MB image takes seconds; nothing waits for it, so it runs on after exit
    Bun.spawn(['docker', 'image', 'rm', old], { stdout: 'ignore', stderr: 'ignore' }).unref()
    stage(`removing old image ${old} in the background`)
  }
}

/** Builds the image for the current inputs unless it exists; returns the tag. */
export async function buildSandboxImage(root = REPO_ROOT): Promise<string> {
  const tag = sandboxImageTag(root)
  stage(`image ${tag}`)
  if (await imageExists(tag)) {
    stage('already built')
    return tag
  }
  if (process.getuid?.() !== 0) throw new Error('building the sandbox image needs root (debootstrap, chown)')
  return withBuildLock(async () => {
    // another build may have produced it while this one waited for the lock
    if (await imageExists(tag)) {
      stage('built by another process')
      return tag
    }
    await buildUnlocked(tag, root)
    await pruneOldImages(tag).catch(() => {})
    return tag
  })
}

async function buildUnlocked(tag: string, root: string): Promise<void> {
  const source = aptSource()
  const tarball = await baseRootfs(source)
  const work = join(CACHE_DIR, `work-${tag.split(':')[1]}`)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  stage('extracting the rootfs')
  await run(['tar', '-C', work, '--numeric-owner', '-xpf', tarball])
  stage('customizing: user coder, shell, entry script, fixtures')
  await customize(work, root)
  stage('docker import')
  const changes = [
    'USER coder',
    'WORKDIR /home/coder',
    'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/home/coder TERM=xterm-256color',
    'CMD ["/opt/shellfolio/entry.sh"]',
    `LABEL shellfolio.image=sandbox shellfolio.inputs=${tag.split(':')[1]}`,
  ].flatMap((c) => ['--change', c])
  const tar = Bun.spawn(['tar', '-C', work, '--numeric-owner', '-c', '.'], { stdout: 'pipe', stderr: 'pipe' })
  const imp = Bun.spawn(['docker', 'import', ...changes, '-', tag], {
    stdin: tar.stdout,
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [tarCode, impCode, impErr] = await Promise.all([tar.exited, imp.exited, new Response(imp.stderr).text()])
  rmSync(work, { recursive: true, force: true })
  if (tarCode !== 0 || impCode !== 0)
    throw new Error(`docker import failed (tar ${tarCode}, import ${impCode}): ${impErr}`)
  const size = (await run(['docker', 'image', 'inspect', '--format', '{{.Size}}', tag])).trim()
  stage(`built ${tag} (${(Number(size) / 1e6).toFixed(0)} MB)`)
}

/**
 * The Debian packages each toolchain image adds to the sandbox image (docs/projects.md). `c` is
 * the sandbox image itself (gcc, make).
 */
export const TOOLCHAIN_PACKAGES: Record<string, string[]> = {
  python: ['python3'],
  node: ['nodejs'],
  go: ['golang-go'],
  rust: ['rustc', 'cargo'],
}

/** The toolchain image tag of a runtime for a given sandbox (base) image tag; `c` is the base itself. */
export function toolchainImageTag(runtime: string, baseTag = sandboxImageTag()): string {
  if (runtime === 'c') return baseTag
  const packages = TOOLCHAIN_PACKAGES[runtime]
  if (!packages)
    throw new Error(`unknown runtime '${runtime}' (known: c, ${Object.keys(TOOLCHAIN_PACKAGES).join(', ')})`)
  const hash = createHash('sha256')
    .update(`${baseTag}\n${packages.join(',')}\n`)
    .digest('hex')
    .slice(0, 12)
  return `${IMAGE_REPOSITORY}-${runtime}:${hash}`
}

/**
 * Builds a toolchain image unless it exists: a container of the sandbox image, as root with the
 * network, installs the runtime's packages from the mirror the image was debootstrapped from, drops
 * apt's caches, docs and setuid bits, and is committed with the sandbox's user and entry point.
 */
export async function buildToolchainImage(runtime: string, root = REPO_ROOT): Promise<string> {
  const base = await buildSandboxImage(root)
  if (runtime === 'c') return base
  const tag = toolchainImageTag(runtime, base)
  stage(`image ${tag}`)
  if (await imageExists(tag)) {
    stage('already built')
    return tag
  }
  const packages = TOOLCHAIN_PACKAGES[runtime] as string[]
  const name = `shellfolio-toolchain-build-${runtime}-${process.pid}`
  const script = [
    'set -e',
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -q',
    `apt-get install -y -q --no-install-recommends ${packages.join(' ')}`,
    'apt-get clean',
    'rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/*',
    'find / -xdev -type f -perm /6000 -exec chmod ug-s {} +',
  ].join('\n')
  stage(`installing ${packages.join(', ')} into ${base}`)
  try {
    // why: the sandbox image's root filesystem is read-only only at run time; here it is a plain container
    await run(['docker', 'run', '--name', name, '--user', '0', base, 'bash', '-c', script])
    const changes = [
      'USER coder',
      'WORKDIR /home/coder',
      'CMD ["/opt/shellfolio/entry.sh"]',
      `LABEL shellfolio.image=sandbox-${runtime} shellfolio.base=${base.split(':')[1]}`,
    ].flatMap((c) => ['--change', c])
    await run(['docker', 'commit', ...changes, name, tag])
  } finally {
    await run(['docker', 'rm', '-f', name]).catch(() => '')
  }
  const size = (await run(['docker', 'image', 'inspect', '--format', '{{.Size}}', tag])).trim()
  stage(`built ${tag} (${(Number(size) / 1e6).toFixed(0)} MB)`)
  return tag
}

if (import.meta.main) {
  try {
    const at = process.argv.indexOf('--runtime')
    const wanted = at >= 0 ? (process.argv[at + 1] ?? '') : 'c'
    const runtimes = wanted === 'all' ? ['c', ...Object.keys(TOOLCHAIN_PACKAGES)] : wanted.split(',')
    for (const runtime of runtimes) console.log(await buildToolchainImage(runtime))
  } catch (err) {
    console.error(`build ${basename(import.meta.path)}: ${err instanceof Error ? err.message : err}`)
    process.exit(1)
  }
}
