// Extracts the JavaScript snippets of a Markdown file and runs each as a user would: saved
// as a file of its own in an empty project where `luapool` is installed, then `node file`.
//
// Conventions (docs/api.md, "Documentation snippets"):
// - A ```js block is a CommonJS file, unless its first line is a comment naming an ES
//   module (`// quick-start.mjs`); only those may use `import` and top-level `await`.
// - On a line that calls console.log, a trailing comment is what that call prints
//   (`console.log(1 + 1);   // 2`), optionally followed by an explanation after two
//   spaces and a parenthesis, a dash or a colon; a comment line `// Prints: text` states a
//   line printed by code elsewhere (a listener, a callback). Each stated line must be
//   printed (in any order); the comparison ignores spaces next to brackets and commas.
// - A block whose first line is `// fragment: why` is not run (keep it rare).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');

function extract(file) {
  const text = fs.readFileSync(file, 'utf8');
  const snippets = [];
  const re = /^```(js|javascript|mjs|cjs)(?:[ \t][^\n]*)?\n([\s\S]*?)^```/gm;
  let m;
  while ((m = re.exec(text))) {
    const line = text.slice(0, m.index).split('\n').length;
    const code = m[2];
    const first = code.split('\n')[0].trim();
    const fragment = /^\/\/\s*fragment\b/i.test(first);
    const esm = m[1] === 'mjs' || /^\/\/\s*[\w./-]+\.mjs\b/.test(first);
    snippets.push({ file: path.relative(root, file), line, code, esm, fragment, expected: expectations(code) });
  }
  return snippets;
}

function expectations(code) {
  const out = [];
  code.split('\n').forEach((l, i) => {
    const prints = /^\s*\/\/\s*Prints:\s?(.*)$/.exec(l);
    if (prints) { out.push({ text: prints[1], line: i + 1 }); return; }
    if (!/console\.log\(/.test(l)) return;
    const c = trailingComment(l);
    if (c !== null) out.push({ text: c.replace(/^→\s*/, ''), line: i + 1 });
  });
  return out;
}

// The `//` comment that ends a line of code, outside strings and template literals.
function trailingComment(l) {
  let quote = null;
  for (let i = 0; i < l.length; i++) {
    const c = l[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === '/' && l[i + 1] === '/') {
      return l.slice(0, i).trim() ? l.slice(i + 2).trim() : null;
    }
  }
  return null;
}

const squash = (s) => s.trim().replace(/\s+/g, ' ').replace(/([[{(]) /g, '$1').replace(/ ([\]}),])/g, '$1');

function matches(stated, printed) {
  const s = squash(stated);
  const p = squash(printed);
  if (s === p) return true;
  return s.startsWith(p) && /^(\s+\(|\s+[—–-]\s|:\s)/.test(s.slice(p.length)) && p.length > 0;
}

let project;
function projectDir() {
  if (project) return project;
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-doc-snippets-'));
  fs.writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'snippets', private: true }, null, 2)}\n`);
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(root, path.join(project, 'node_modules', 'luapool'), 'dir');
  process.on('exit', () => fs.rmSync(project, { recursive: true, force: true }));
  return project;
}

// Runs one snippet; returns a list of problems (empty: it ran as written).
function run(snippet, { timeoutMs = 30000 } = {}) {
  const dir = projectDir();
  const name = `snippet-${snippet.line}.${snippet.esm ? 'mjs' : 'cjs'}`;
  fs.writeFileSync(path.join(dir, name), snippet.code);
  const r = spawnSync(process.execPath, [name], {
    cwd: dir, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, FORCE_COLOR: '0', NODE_OPTIONS: '' },
  });
  const problems = [];
  const where = `${snippet.file}:${snippet.line}`;
  if (r.error && r.error.code === 'ETIMEDOUT') problems.push(`${where}: still running after ${timeoutMs} ms`);
  else if (r.status !== 0) problems.push(`${where}: exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}`);
  const quietStderr = !/console\.(error|warn)\(/.test(snippet.code);
  if (quietStderr && r.stderr) problems.push(`${where}: wrote to stderr`);
  const printed = r.stdout.split('\n');
  const used = new Set();
  for (const e of snippet.expected) {
    const i = printed.findIndex((p, k) => !used.has(k) && matches(e.text, p));
    if (i < 0) problems.push(`${where}, snippet line ${e.line}: states "${e.text}", not printed`);
    else used.add(i);
  }
  if (problems.length) problems.push(`stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return problems;
}

module.exports = { extract, run, matches, trailingComment };
