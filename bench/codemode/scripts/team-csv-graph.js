// search: knowledge graph entities relations
// search: read file
const csv = (await tools.files__read_text_file({path: "{ws}/team.csv"})).content;
const parse = line => { const out = []; let cur = "", q = false;
  for (let i = 0; i < line.length; i++) { const c = line[i];
    if (q) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
    else if (c === '"') q = true; else if (c === ",") { out.push(cur); cur = ""; } else cur += c; }
  out.push(cur); return out.map(s => s.trim()); };
const rows = csv.split(/\r?\n/).filter(l => l.trim()).map(parse);
const header = rows.shift().map(h => h.toLowerCase());
const col = re => header.findIndex(h => re.test(h));
const first = col(/first/), last = col(/last/), nameI = col(/name/), roleI = col(/role|title|position/);
const people = rows.map(r => ({name: first >= 0 && last >= 0 ? `${r[first]} ${r[last]}` : r[nameI >= 0 ? nameI : 0], role: r[roleI >= 0 ? roleI : 1]}));
const graph = await tools.memory__read_graph({});
const norm = s => s.toLowerCase().replace(/\s+/g, " ").trim();
const existing = new Map(graph.entities.map(e => [norm(e.name), e]));
const create = [], addObs = [], rels = [];
for (const p of people) {
  const obs = `role: ${p.role}`;
  const e = existing.get(norm(p.name));
  if (e) { if (!e.observations.includes(obs)) addObs.push({entityName: e.name, contents: [obs]}); }
  else create.push({name: p.name, entityType: "person", observations: [obs]});
  const name = e ? e.name : p.name;
  if (!graph.relations.some(r => r.from === name && r.to === "Atlas" && r.relationType === "works_on")) rels.push({from: name, to: "Atlas", relationType: "works_on"});
}
if (create.length) await tools.memory__create_entities({entities: create});
if (addObs.length) await tools.memory__add_observations({observations: addObs});
if (rels.length) await tools.memory__create_relations({relations: rels});
return {created: create.map(e => e.name), alreadyThere: people.filter(p => existing.has(norm(p.name))).map(p => p.name), worksOnAtlas: rels.map(r => r.from)};
