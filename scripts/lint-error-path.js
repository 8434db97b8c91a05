#!/usr/bin/env node
// Checks the error-path rules of native/lua-error.hpp in native/*.cpp, mechanically:
//
//   node scripts/lint-error-path.js        prints each finding, exits 1 if there is one
//
// 1. In a function that can be a Lua frame -- one taking a `lua_State*` or a `LuaState&`
//    (every lua_CFunction, continuation, handler, and every helper under lua_pcall) --
//    no local variable or by-value parameter of a type with a destructor (std::string,
//    containers, smart pointers, locks, std::function, streams): a Lua error is a longjmp
//    and would skip it. References and pointers are fine (the object lives elsewhere).
//    Inside a cppIsland lambda such objects are allowed (the island raises nothing) ...
// 2. ... and then the island, like a function marked `// error path: raises nothing` in
//    the comment above it, may call only Lua API functions that cannot raise (the
//    allow-list below: stack reads, raw reads, pushes that do not allocate).
// A function that is never a Lua frame (it only calls lua_pcall, say) says so with the
// comment `// error path: not a Lua frame` above it, and is not checked.
// Exported: lint(files) -> [{ file, line, message }], for test/25-error-path.test.js.
'use strict';

const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

const RAII = String.raw`(?:std::(?:string|vector|unique_ptr|shared_ptr|lock_guard|unique_lock|scoped_lock|function|map|unordered_map|set|unordered_set|deque|ostringstream|stringstream)(?:<[^;{}]*>)?|ClosingGuard)`;
// `Type name;`, `Type name = ...`, `Type name(...)`, `Type name{...}` (not `Type& name`)
const LOCAL = new RegExp(String.raw`(?:^|[\s(;{])(?:const\s+)?${RAII}\s+(\w+)\s*[;=({,]`);
const BY_VALUE_PARAM = new RegExp(String.raw`(?:\(|,)\s*(?:const\s+)?${RAII}\s+(\w+)\s*(?=[,)=])`);

// Lua API that never raises (with a checked stack, on values already of the right type).
const SAFE_API = new Set([
  'lua_absindex', 'lua_checkstack', 'lua_copy', 'lua_getinfo', 'lua_getmetatable', 'lua_getstack',
  'lua_gettop', 'lua_insert', 'lua_isboolean', 'lua_iscfunction', 'lua_isfunction', 'lua_isinteger',
  'lua_isnil', 'lua_isnone', 'lua_isnoneornil', 'lua_isnumber', 'lua_isstring', 'lua_istable',
  'lua_isuserdata', 'lua_isyieldable', 'lua_next', 'lua_pop', 'lua_pushboolean', 'lua_pushcfunction',
  'lua_pushinteger', 'lua_pushlightuserdata', 'lua_pushnil', 'lua_pushnumber', 'lua_pushvalue',
  'lua_rawequal', 'lua_rawget', 'lua_rawgeti', 'lua_rawgetp', 'lua_rawlen', 'lua_remove', 'lua_replace',
  'lua_rotate', 'lua_settop', 'lua_status', 'lua_toboolean', 'lua_tointeger', 'lua_tointegerx',
  'lua_tolstring', 'lua_tonumber', 'lua_tonumberx', 'lua_topointer', 'lua_tostring', 'lua_tothread',
  'lua_touserdata', 'lua_type', 'lua_typename', 'lua_upvalueindex', 'luaL_typename',
]);
const API_CALL = /\b(lua[L]?_\w+)\s*\(/g;

function stripStrings(line) {
  return line.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/'(?:[^'\\]|\\.)*'/g, "''");
}

function braceDelta(code) {
  let d = 0;
  for (const ch of code) {
    if (ch === '{') d++;
    else if (ch === '}') d--;
  }
  return d;
}

// Splits a file into function bodies: { name, signature, marker, startLine, lines: [{ n, code }] }.
function functionsOf(text) {
  const raw = text.split('\n');
  const out = [];
  let depth = 0;          // braces that are not namespaces
  let pending = [];       // signature lines being collected at depth 0
  let fn = null;
  let fnDepth = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = stripStrings(raw[i].replace(/\/\/.*$/, ''));
    if (fn) {
      fn.lines.push({ n: i + 1, code });
      fnDepth += braceDelta(code);
      if (fnDepth <= 0) { out.push(fn); fn = null; }
      continue;
    }
    if (/^\s*namespace\b.*\{\s*$/.test(code) || /^\s*}\s*\/?\/?.*namespace/.test(raw[i])) { pending = []; continue; }
    if (depth === 0 && /\(/.test(code) && !/;\s*$/.test(code) && !/^\s*(#|\/\/|struct|class|enum|using|template)/.test(code)) {
      pending.push({ n: i + 1, code });
    } else if (depth === 0 && pending.length && !/^\s*$/.test(code)) {
      pending.push({ n: i + 1, code });
    }
    if (pending.length && depth === 0 && /\{/.test(code) && /\}\s*$/.test(code) && braceDelta(pending.map((q) => q.code).join(' ')) === 0) {
      // a one-line function: `void f(lua_State* L) { ... }`
      const signature = pending.map((q) => q.code).join(' ');
      const m = signature.match(/(\w+(?:::\w+)?)\s*\(/);
      out.push({ name: m ? m[1] : '?', signature, marker: '', startLine: pending[0].n, lines: [{ n: i + 1, code: signature.slice(signature.indexOf('{')) }] });
      pending = [];
      continue;
    }
    if (pending.length && /\{\s*$/.test(code) && depth === 0) {
      const signature = pending.map((p) => p.code).join(' ');
      const start = pending[0].n;
      let marker = '';
      for (let j = start - 2; j >= 0 && j >= start - 4 && /^\s*\/\//.test(raw[j]); j--) marker += raw[j];
      const m = signature.match(/(\w+(?:::\w+)?)\s*\(/);
      fn = { name: m ? m[1] : '?', signature, marker, startLine: start, lines: [] };
      fnDepth = braceDelta(signature);
      pending = [];
      if (fnDepth <= 0) { out.push(fn); fn = null; }
      continue;
    }
    if (pending.length && /;\s*$/.test(code)) pending = [];
    if (!fn) depth += braceDelta(code);
    if (depth < 0) depth = 0;
  }
  return out;
}

function checkApi(file, line, code, where, findings) {
  for (const m of code.matchAll(API_CALL)) {
    if (!SAFE_API.has(m[1])) findings.push({ file, line, message: `${m[1]} can raise: not allowed ${where}` });
  }
}

function lintFile(file) {
  const rel = path.relative(root, file);
  const findings = [];
  for (const fn of functionsOf(fs.readFileSync(file, 'utf8'))) {
    const luaFrame = /\blua_State\s*\*|\bLuaState\s*&/.test(fn.signature);
    if (/error path: not a Lua frame/.test(fn.marker)) continue;
    const raisesNothing = /error path: raises nothing/.test(fn.marker);
    if (!luaFrame && !raisesNothing) continue;
    const p = fn.signature.match(BY_VALUE_PARAM);
    if (p && !raisesNothing) {
      findings.push({ file: rel, line: fn.startLine, message: `${fn.name}: by-value parameter '${p[1]}' has a destructor a Lua error would skip` });
    }
    let island = 0;  // brace depth inside a cppIsland lambda (0: outside)
    for (const { n, code } of fn.lines) {
      if (!island && /\bcppIsland\s*\(/.test(code)) {
        island = Math.max(1, braceDelta(code.slice(code.indexOf('cppIsland'))));
        checkApi(rel, n, code.slice(code.indexOf('cppIsland')), `in a cppIsland (${fn.name})`, findings);
        if (braceDelta(code.slice(code.indexOf('cppIsland'))) <= 0) island = 0;
        continue;
      }
      if (island) {
        checkApi(rel, n, code, `in a cppIsland (${fn.name})`, findings);
        island += braceDelta(code);
        if (island <= 0) island = 0;
        continue;
      }
      if (raisesNothing) {
        checkApi(rel, n, code, `in ${fn.name}, marked "error path: raises nothing"`, findings);
        continue;
      }
      const m = code.match(LOCAL);
      if (m) findings.push({ file: rel, line: n, message: `${fn.name}: local '${m[1]}' has a destructor a Lua error would skip (use a cppIsland, the state's scratch, or storage outside the frame)` });
    }
  }
  return findings;
}

function lint(files) {
  const list = files || fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cpp')).map((f) => path.join(root, 'native', f));
  return list.flatMap(lintFile);
}

if (require.main === module) {
  const findings = lint(process.argv.slice(2).length ? process.argv.slice(2).map((f) => path.resolve(f)) : null);
  for (const f of findings) process.stdout.write(`${f.file}:${f.line}: ${f.message}\n`);
  process.stdout.write(findings.length ? `${findings.length} finding(s)\n` : 'error path: no findings\n');
  process.exit(findings.length ? 1 : 0);
}

module.exports = { lint, functionsOf };
