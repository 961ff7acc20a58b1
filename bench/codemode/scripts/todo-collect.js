// search: search files read file
// search: write file
const W = "{ws}", src = `${W}/src`;
const found = (await tools.files__search_files({path: src, pattern: "**/*.py"})).content;
const paths = found.split("\n").map(s => s.trim()).filter(p => p.endsWith(".py"));
const rel = p => p.startsWith(src + "/") ? p.slice(src.length + 1) : p.slice(p.indexOf("/src/") + 5);
// index of the `#` that starts a comment (outside string literals), or -1
const hash = line => { let q = null;
  for (let i = 0; i < line.length; i++) { const c = line[i];
    if (q) { if (c === "\\") i++; else if (c === q) q = null; }
    else if (c === "'" || c === '"') q = c; else if (c === "#") return i; }
  return -1; };
const todos = [];
await Promise.all(paths.map(async p => {
  const text = (await tools.files__read_text_file({path: p})).content;
  text.split(/\r?\n/).forEach((line, i) => {
    const h = hash(line); if (h < 0) return;
    const m = /\bTODO:(.*)$/.exec(line.slice(h));
    if (m) todos.push({path: rel(p), line: i + 1, text: m[1].trim()});
  });
}));
todos.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line));
const content = todos.map(t => `${t.path}:${t.line}: ${t.text}`).join("\n") + "\n";
await tools.files__write_file({path: `${W}/TODO.md`, content});
return content;
