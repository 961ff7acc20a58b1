// search: sqlite query update insert schema
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
const P = table(/^products$/i, /product/i), L = table(/^restock_log$/i);
const stock = col(P, /^stock$/i, /stock|on_hand|quantity|qty/i), reorder = col(P, /reorder/i);
const lref = T[L].find(c => c.rt === P) || T[L].find(c => /product|sku|item/i.test(c.c));
const key = lref.rt === P && lref.rc ? lref.rc : /sku/i.test(lref.c) ? col(P, /sku/i) : /name/i.test(lref.c) ? col(P, /name/i) : pk(P);
const qty = col(L, /qty|quantity|added|amount|units|count/i), note = col(L, /note|comment|reason/i);
const low = await q(`SELECT ${id(pk(P))} AS pk, ${id(key)} AS k, ${id(stock)} AS s, ${id(reorder)} AS r FROM ${id(P)} WHERE ${id(stock)} < ${id(reorder)}`);
if (low.length) {
  // other columns that must be filled and have no default: a time stamp gets the current time
  const extra = T[L].filter(c => c.nn && c.dv == null && !c.pk && ![lref.c, qty, note].includes(c.c));
  const names = [lref.c, qty, note, ...extra.map(c => c.c)].map(id).join(", ");
  const vals = low.map(r => `(${[typeof r.k === "number" ? r.k : lit(r.k), 2 * r.r - r.s, "'auto'", ...extra.map(() => "CURRENT_TIMESTAMP")].join(", ")})`);
  await sql("write_query", `INSERT INTO ${id(L)} (${names}) VALUES ${vals.join(", ")}`);
  await sql("write_query", `UPDATE ${id(P)} SET ${id(stock)} = 2 * ${id(reorder)} WHERE ${id(stock)} < ${id(reorder)}`);
}
return `Restocked ${low.length} products.`;
