// search: sqlite query schema
// search: knowledge graph create entities relations
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
const cols = await q(`SELECT m.name AS t, p.name AS c, p.type AS ty, p.pk AS pk, p."notnull" AS nn, p.dflt_value AS dv, f."table" AS rt, f."to" AS rc FROM sqlite_master m JOIN pragma_table_info(m.name) p LEFT JOIN pragma_foreign_key_list(m.name) f ON f."from" = p.name WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`);
const T = {}; for (const r of cols) if (!(T[r.t] ||= []).some(c => c.c === r.c)) T[r.t].push(r);
const table = (...res) => { for (const re of res) { const t = Object.keys(T).find(t => re.test(t)); if (t) return t; } };
const col = (t, ...res) => { for (const re of res) { const c = T[t].find(c => re.test(c.c)); if (c) return c.c; } };
const pk = t => (T[t].find(c => c.pk) || {c: "rowid"}).c;
const ref = (t, target, re) => (T[t].find(c => c.rt === target) || T[t].find(c => re.test(c.c)) || {}).c;
const id = s => `"${s}"`, lit = s => `'${String(s).replace(/'/g, "''")}'`;
const P = table(/^projects$/i, /project/i);
const pname = col(P, /^name$/i, /^(project_?)?name$|title/i, /name/i), status = col(P, /status|state/i);
const owner = col(P, /^owner$/i, /owner|lead|manager/i);
const oc = T[P].find(c => c.c === owner);
let ownerExpr = `p.${id(owner)}`, join = "";
if (oc.rt || /_id$/i.test(owner) || /int/i.test(oc.ty)) { // owner is a reference: name the referenced row
  const O = oc.rt || table(/^people$|^persons?$|^users?$|^employees?$|^owners?$/i);
  const f = col(O, /^first_?name$/i), l = col(O, /^last_?name$/i);
  ownerExpr = f && l ? `o.${id(f)} || ' ' || o.${id(l)}` : `o.${id(col(O, /^name$/i, /name/i))}`;
  join = `LEFT JOIN ${id(O)} o ON o.${id(oc.rc || pk(O))} = p.${id(owner)}`;
}
const rows = await q(`SELECT p.${id(pname)} AS project, p.${id(status)} AS status, ${ownerExpr} AS owner FROM ${id(P)} p ${join}`);
const owners = [...new Set(rows.map(r => r.owner).filter(o => o != null))];
await tools.memory__create_entities({entities: [
  ...rows.map(r => ({name: r.project, entityType: "project", observations: [`status: ${r.status}`]})),
  ...owners.map(o => ({name: o, entityType: "person", observations: []})),
]});
await tools.memory__create_relations({relations: rows.filter(r => r.owner != null).map(r => ({from: r.project, to: r.owner, relationType: "owned_by"}))});
return {projects: rows.length, owners};
