// search: sqlite query schema
// search: write file create directory
const py = s => { let i = 0; const num = /[^,\]\)\}:\s]+/y;
  const sp = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  const v = () => { sp(); const c = s[i];
    if ("[({".includes(c)) { const e = {"[": "]", "(": ")", "{": "}"}[c], a = [], o = {}; i++; sp();
      while (s[i] !== e) { const k = v(); sp(); if (c === "{") { i++; o[k] = v(); sp(); } else a.push(k); if (s[i] === ",") i++; sp(); }
      i++; return c === "{" ? o : a; }
    if (c === "'" || c === '"') { let r = ""; i++;
      while (s[i] !== c) { if (s[i] === "\\") { const e = s[i + 1]; i += 2; const n = {x: 2, u: 4, U: 8}[e];
          if (n) { r += String.fromCodePoint(parseInt(s.substr(i, n), 16)); i += n; } else r += {n: "\n", t: "\t", r: "\r", 0: "\0"}[e] ?? e; }
        else r += s[i++]; }
      i++; return r; }
    num.lastIndex = i; const w = num.exec(s)[0]; i += w.length;
    return w === "None" ? null : w === "True" ? true : w === "False" ? false : Number(w); };
  return v(); };
const sql = async (tool, query) => { const r = String(await tools[`sqlite__${tool}`]({query})); if (/^(Database error|Error)\b/.test(r)) throw new Error(`${r} (${query})`); return r; };
const q = async query => py(await sql("read_query", query));
const cols = await q(`SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`);
const T = {}; for (const r of cols) (T[r.t] ||= []).push(r);
const lines = [];
for (const t of Object.keys(T).sort()) lines.push(`## ${t}`, ...T[t].map(c => `- ${c.c}: ${c.ty}`), "");
await tools.files__create_directory({path: "{ws}/docs"});
await tools.files__write_file({path: "{ws}/docs/schema.md", content: lines.join("\n")});
return lines.join("\n");
