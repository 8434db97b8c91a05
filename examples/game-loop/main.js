#!/usr/bin/env node
// The game-loop demo (`npm run demo`): a fixed-timestep loop over hundreds to tens of
// thousands of entities whose behaviour is Lua (behaviours/*.lua), run in parallel each
// frame on a pool of lua_States, in place on the world's typed arrays (world.js). Edit a
// behaviour while it runs: it is hot-reloaded (a file with a syntax error is reported and
// the old version kept).
//
//   node examples/game-loop/main.js [--frames 300] [--entities 600] [--hz 60] [--states N]
//        [--threads N] [--render] [--render-every 30] [--unpaced] [--no-watch] [--verbose]
//        [--profile out.cpuprofile]
'use strict';
const fs = require('fs');
const os = require('os');
const { parseArgs } = require('util');
const { performance } = require('perf_hooks');
const { World } = require('./world');

const HELP = `usage: node examples/game-loop/main.js [options]
  --frames N        frames to simulate, then exit (default 300 = 5 s at 60 Hz)
  --entities N      initial population (default 600)
  --hz N            fixed timestep rate (default 60)
  --states N        lua_States in the pool (default: twice --threads)
  --threads N       threads that run Lua at once (default: the number of cores, as the
                    main thread mostly waits while the behaviours run)
  --render          draw the world as an ASCII map every --render-every frames
  --render-every N  (default 30)
  --unpaced         do not sleep between frames (run as fast as possible)
  --no-watch        do not hot-reload behaviours/*.lua
  --verbose         print every engine.log line (default: warnings and a summary)
  --profile FILE    sample the Lua stacks (1 kHz) and write FILE in Chrome's .cpuprofile
                    format (open it in Chrome DevTools, VS Code or speedscope)`;

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        frames: { type: 'string' }, entities: { type: 'string' }, hz: { type: 'string' },
        states: { type: 'string' }, threads: { type: 'string' }, profile: { type: 'string' },
        render: { type: 'boolean' }, 'render-every': { type: 'string' },
        unpaced: { type: 'boolean' }, 'no-watch': { type: 'boolean' }, verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    console.error(`${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name, fallback, min) => {
    if (parsed[name] === undefined) return fallback;
    const n = Number(parsed[name]);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${name} must be an integer >= ${min}, got '${parsed[name]}'`);
      process.exit(2);
    }
    return n;
  };
  return {
    frames: int('frames', 300, 1),
    entities: int('entities', 600, 1),
    hz: int('hz', 60, 1),
    states: int('states', undefined, 1),
    threads: int('threads', undefined, 1),
    profile: parsed.profile,
    render: parsed.render === true,
    renderEvery: int('render-every', 30, 1),
    paced: parsed.unpaced !== true,
    watch: parsed['no-watch'] !== true,
    verbose: parsed.verbose === true,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (p) => `p50 ${p.p50.toFixed(2)}  p90 ${p.p90.toFixed(2)}  p99 ${p.p99.toFixed(2)}  max ${p.max.toFixed(2)} ms`;

async function main() {
  const o = options();
  // Lua threads: one per core by default (at most what libuv's pool leaves free), since
  // the main thread mostly waits while the behaviours run (it senses while the first
  // chunks of rows run, then waits for the rest).
  const maxThreads = Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1);
  const threads = Math.min(o.threads ?? os.availableParallelism(), maxThreads, o.states ?? Infinity);
  const world = new World({ entities: o.entities, states: o.states, threads });
  const tty = process.stdout.isTTY && o.render;
  world.on('reload', (r) => {
    if (r.ok) console.log(`[reload] frame ${r.frame}: behaviours/${r.name}.lua reloaded`);
    else console.log(`[reload] frame ${r.frame}: behaviours/${r.name}.lua NOT reloaded, keeping the old version:\n  ${r.error.message}`);
  });
  let errorsShown = 0;
  world.on('script-error', (name, err) => {
    if (errorsShown++ < 5) console.log(`[script] frame ${world.frame}: ${name} failed (${err.name}): ${err.message.split('\n')[0]}`);
    else if (errorsShown === 6) console.log('[script] further script errors are counted, not shown');
  });
  world.on('log', (a) => {
    if (o.verbose || a.level === 'warn' || a.level === 'error') console.log(`[lua:${a.level}] ${a.message}`);
  });
  if (o.watch) world.watch();

  const budget = 1000 / o.hz;
  const dt = 1 / o.hz;
  console.log(`luapool game loop: ${world.entities.size} entities, ${world.behaviours.length} behaviours ` +
    `(${world.behaviours.join(', ')}), ${world.runner.states} state${world.runner.states === 1 ? '' : 's'} (parallelism ${world.runner.parallelism}), ` +
    `${o.frames} frames at ${o.hz} Hz${o.paced ? '' : ' (unpaced)'}` +
    (o.watch ? '\nedit examples/game-loop/behaviours/*.lua while it runs to hot-reload them' : ''));
  const profiling = o.profile ? world.runner.profile({ sampleHz: 1000 }) : undefined;
  const started = performance.now();
  let next = started;
  let late = 0;
  for (let f = 0; f < o.frames; f++) {
    const r = await world.step(dt);
    if (r.frameMs > budget) late++;
    if (o.render && (r.frame % o.renderEvery === 0 || r.frame === 1)) {
      if (tty) process.stdout.write('\x1b[H\x1b[2J');
      console.log(world.render());
    }
    if (o.paced) {
      next += budget;
      const wait = next - performance.now();
      if (wait > 1) await sleep(wait);
      else if (wait < -budget * 5) next = performance.now(); // far behind: do not try to catch up
    }
  }
  const wall = (performance.now() - started) / 1000;
  const s = world.summary();
  const profile = profiling ? await profiling.stop() : undefined;
  await world.close();

  const logs = Object.entries(s.logs).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const perFrame = Math.round(s.population.mean * budget / Math.max(s.frameMs.p50, 1e-3));
  console.log([
    '',
    `${s.frames} frames in ${wall.toFixed(2)} s, ${s.entities} entities at the end ` +
      `(spawned ${s.totals.spawned}, eaten ${s.totals.eaten}, starved ${s.totals.starved})`,
    `frame time      ${fmt(s.frameMs)}  (budget ${budget.toFixed(2)} ms, ${late} frames over)`,
    `entities/frame  p50 ${s.population.p50}  min ${s.population.min}  max ${s.population.max}; ` +
      `at the p50 frame time, ~${perFrame} entities fit a ${budget.toFixed(1)} ms frame`,
    `script wait     ${fmt(s.scriptMs)}`,
    `main thread     sense p50 ${s.senseMs.p50.toFixed(2)} ms, barrier p50 ${s.barrierMs.p50.toFixed(2)} ms (JavaScript: grid search, regrouping rows)`,
    `share of the frame spent waiting on scripts: ${(s.scriptShare * 100).toFixed(1)}%`,
    `pool jobs       ${s.runner.completed} jobs, run p50 ${s.runner.runMs.p50.toFixed(2)} ms, ` +
      `wait p50 ${s.runner.waitMs.p50.toFixed(2)} ms, ${world.runner.parallelism} thread${world.runner.parallelism === 1 ? '' : 's'}`,
    `behaviours      ${Object.entries(s.runner.modules).sort(([a], [b]) => (a < b ? -1 : 1)).map(([m, v]) => `${m} ${(v.runMs / Math.max(1, s.frames)).toFixed(2)} ms`).join(', ')} (Lua run time per frame)`,
    `engine.log      ${logs}` + (s.scriptErrors ? `; failed batches ${s.scriptErrors}` : ''),
    `hot reloads     ${s.reloads.ok} ok, ${s.reloads.failed} rejected`,
  ].join('\n'));
  if (profile) {
    fs.writeFileSync(o.profile, JSON.stringify(profile.cpuprofile));
    const top = profile.summary().functions.slice(0, 3).map((f) => `${f.name} (${f.url}:${f.line}) ${f.selfMs.toFixed(0)} ms`);
    console.log(`profile         ${o.profile}: ${profile.summary().samples} samples; most self time: ${top.join(', ') || 'none'}`);
  }
  if (!o.verbose && world.recentLogs.length > 0) {
    console.log('last engine.log lines:\n  ' + world.recentLogs.slice(-4).join('\n  '));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
