// Applies our numbered patch series (unified diffs against lua-5.4.7/src) to deps/lua/src.
// A small strict applier, so the build needs no `patch` program: every hunk's context must
// match exactly (a fuzzy match would hide a patch written against other sources).
'use strict';

const fs = require('fs');
const path = require('path');

function parsePatch(text, name) {
  const files = [];
  let file = null;
  let hunk = null;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('--- ')) { file = null; hunk = null; continue; }
    if (line.startsWith('+++ ')) {
      const target = line.slice(4).split('\t')[0].trim().replace(/^[ab]\//, '');
      file = { target: path.basename(target), hunks: [] };
      files.push(file);
      continue;
    }
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (h) {
      if (!file) throw new Error(`${name}: hunk before file header`);
      hunk = { oldStart: Number(h[1]), old: [], new: [] };
      file.hunks.push(hunk);
      continue;
    }
    if (!hunk) continue; // commentary before the first file header
    if (line.startsWith('\\')) continue; // "\ No newline at end of file"
    const tag = line[0];
    const body = line.slice(1);
    if (tag === ' ' || line === '') { hunk.old.push(body); hunk.new.push(body); }
    else if (tag === '-') hunk.old.push(body);
    else if (tag === '+') hunk.new.push(body);
    else { hunk = null; }
  }
  return files;
}

function applyToText(text, hunks, label) {
  const lines = text.split('\n');
  let offset = 0;
  for (const hunk of hunks) {
    const want = hunk.oldStart - 1 + offset;
    let at = -1;
    // exact position first, then search nearby (line numbers may shift after earlier patches)
    for (let d = 0; d < 400 && at < 0; d++) {
      for (const cand of d === 0 ? [want] : [want - d, want + d]) {
        if (cand < 0 || cand + hunk.old.length > lines.length) continue;
        let ok = true;
        for (let i = 0; i < hunk.old.length; i++) {
          if (lines[cand + i] !== hunk.old[i]) { ok = false; break; }
        }
        if (ok) { at = cand; break; }
      }
    }
    if (at < 0) throw new Error(`${label}: hunk at line ${hunk.oldStart} does not apply`);
    lines.splice(at, hunk.old.length, ...hunk.new);
    offset = at - (hunk.oldStart - 1) + hunk.new.length - hunk.old.length;
  }
  return lines.join('\n');
}

function applyPatchSeries(srcDir, patchesDir, names, log = () => {}) {
  for (const name of names) {
    const files = parsePatch(fs.readFileSync(path.join(patchesDir, name), 'utf8'), name);
    if (files.length === 0) throw new Error(`${name}: no file changes found`);
    for (const f of files) {
      const p = path.join(srcDir, f.target);
      if (!fs.existsSync(p)) throw new Error(`${name}: ${f.target} not found in Lua sources`);
      fs.writeFileSync(p, applyToText(fs.readFileSync(p, 'utf8'), f.hunks, `${name} (${f.target})`));
    }
    log(`applied ${name}`);
  }
}

module.exports = { applyPatchSeries, parsePatch };
