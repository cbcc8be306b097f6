/**
 * `npm run bench -- --profile`: run a server under `node --cpu-prof` through a throughput scenario
 * (default: sessionkit on memory, authenticated GET /dashboard), stop it cleanly so V8 writes the
 * profile, and print the top functions by self time (bench/profile-summary.mjs). Profiling slows
 * the server: the req/s printed here are not results.
 */
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { formatSummary, summarizeProfile } from '../profile-summary.mjs'
import { cannon, summarize, THROUGHPUT } from './load.mjs'
import { expectOk, login, startServer, BENCH_V8_FLAGS } from './servers.mjs'
import { tmpDir } from './users.mjs'

export async function runProfiles(o) {
  const dir = `${tmpDir}profiles/`
  await mkdir(dir, { recursive: true })
  for (const scenario of o.scenarios) {
    const spec = THROUGHPUT[scenario]
    if (spec === undefined) {
      o.log(`--profile: skipping ${scenario} (only dashboard, public and cart are profiled)`)
      continue
    }
    for (const name of o.servers) {
      const profileName = `${name}-${scenario}.cpuprofile`
      // One file per thread (the bcrypt workers write theirs too): profile into a fresh folder and
      // keep the main thread's, the largest.
      const threadDir = `${dir}${name}-${scenario}/`
      await rm(threadDir, { recursive: true, force: true })
      await mkdir(threadDir, { recursive: true })
      const server = await startServer(name, { ...o, execArgv: [...BENCH_V8_FLAGS, '--cpu-prof', '--cpu-prof-dir', threadDir] })
      let load
      let warm
      try {
        const cookie = spec.needsCookie ? await login(server.url, o.users[0]) : ''
        if (spec.check !== null) await expectOk(server.url, spec.check, cookie)
        const options = { connections: o.connections, ...spec.options({ url: server.url, cookie }) }
        o.log(`profile: ${name}, ${scenario}, ${o.warmup} s warm-up + ${o.duration} s`)
        warm = summarize(await cannon({ ...options, duration: o.warmup }))
        load = summarize(await cannon({ ...options, duration: o.duration }))
      } finally {
        await server.stop()
      }
      const files = await Promise.all((await readdir(threadDir)).map(async (f) => ({ f, size: (await stat(threadDir + f)).size })))
      const main = files.sort((a, b) => b.size - a.size)[0]
      const path = dir + profileName
      await rename(threadDir + main.f, path)
      await rm(threadDir, { recursive: true, force: true })
      const summary = summarizeProfile(JSON.parse(await readFile(path, 'utf8')), 25)
      console.log(`\n${name} under ${scenario} (${Math.round(load.rps)} req/s while profiled${load.valid ? '' : `, INVALID: ${load.invalid.join(', ')}`})`)
      console.log(`profile: ${path}`)
      // Everything the main thread did, over every request it answered (warm-up included).
      const perRequestUs = (summary.busyMs * 1000) / (warm.total + load.total)
      console.log(`main thread busy ${perRequestUs.toFixed(1)} µs per request (${warm.total + load.total} requests)`)
      console.log(formatSummary(summary))
    }
  }
}
