// search: sqlite create table insert
// search: read file
const sql = async (tool, query) => { const r = String(await tools[`sqlite__${tool}`]({query})); if (/^(Database error|Error)\b/.test(r)) throw new Error(`${r} (${query})`); return r; };
const text = (await tools.files__read_text_file({path: "{ws}/app.log"})).content;
const counts = {};
for (const line of text.split(/\r?\n/)) {
  if (!/\bERROR\b/.test(line)) continue;
  const m = /\[([A-Za-z][\w.-]*)\]/.exec(line);
  if (m) counts[m[1]] = (counts[m[1]] || 0) + 1;
}
const rows = Object.keys(counts).sort().map(c => `('${c.replace(/'/g, "''")}', ${counts[c]})`);
await sql("create_table", "CREATE TABLE error_counts (component TEXT, errors INTEGER)");
if (rows.length) await sql("write_query", `INSERT INTO error_counts (component, errors) VALUES ${rows.join(", ")}`);
return counts;
