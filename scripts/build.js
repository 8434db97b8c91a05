#!/usr/bin/env node
// Builds what is missing or stale: the Lua sources (fetch + verify + patch), the addon
// (node-gyp, Release) and the TypeScript layer. `--if-needed` skips up-to-date parts.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const ifNeeded = process.argv.includes('--if-needed');

function newest(dirOrFiles) {
  let t = 0;
  for (const p of dirOrFiles) {
    if (!fs.existsSync(p)) continue;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const f of fs.readdirSync(p)) t = Math.max(t, newest([path.join(p, f)]));
    } else {
      t = Math.max(t, st.mtimeMs);
    }
  }
  return t;
}

function mtime(p) {
  return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0;
}

function run(cmd, args) {
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root });
}

function nodeGyp() {
  // npm sets npm_config_node_gyp while running scripts; otherwise use our devDependency.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
}

run(process.execPath, [path.join(root, 'deps', 'lua', 'fetch.js')]);

const addon = path.join(root, 'build', 'Release', 'luapool.node');
const nativeInputs = ['native', 'deps/lua/src', 'deps/lua/lua-all.cpp', 'deps/lua/luapool-ext.c', 'binding.gyp']
  .map((p) => path.join(root, p));
// Build offline against the headers of the running Node when it ships them (no download).
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  return [];
}

if (!ifNeeded || mtime(addon) < newest(nativeInputs)) {
  const jobs = String(Math.max(1, require('os').availableParallelism()));
  run(process.execPath, [nodeGyp(), 'rebuild', '--release', '-j', jobs, ...nodedirArgs()]);
}

const entry = path.join(root, 'dist', 'cjs', 'index.js');
const tsInputs = ['lib', 'tsconfig.json'].map((p) => path.join(root, p));
// A published package ships dist/ and no lib/: there is nothing to compile.
const hasSources = fs.existsSync(path.join(root, 'lib'));
if (hasSources && (!ifNeeded || mtime(entry) < newest(tsInputs) ||
    !fs.existsSync(path.join(root, 'dist', 'esm', 'index.mjs')))) {
  run(process.execPath, [path.join(__dirname, 'build-ts.js')]);
}
